from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.config import Settings
from bot.models import utcnow
from bot.tracker_store import TrackerStore, make_tracker_store
from tests.helpers.rasa_store import stored_text, write_tracker


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[TrackerStore]:
    store = make_tracker_store(settings)
    yield store
    await store.close()


async def test_nothing_to_delete_before_rasa_stored_anything(store: TrackerStore) -> None:
    assert await store.delete(["c_0123"]) == 0
    assert await store.delete_before(utcnow()) == 0


async def test_deleting_a_sender_leaves_the_others(settings: Settings, store: TrackerStore) -> None:
    write_tracker(settings, "c_amina", "amina's words", utcnow())
    write_tracker(settings, "c_rosa", "rosa's words", utcnow())

    assert await store.delete(["c_amina"]) == 1

    kept = stored_text(settings)
    assert ("amina's words" in kept, "rosa's words" in kept) == (False, True)


async def test_deleting_what_is_older_than_a_cutoff(
    settings: Settings, store: TrackerStore
) -> None:
    write_tracker(settings, "c_old", "said long ago", utcnow() - timedelta(days=100))
    write_tracker(settings, "c_new", "said today", utcnow())

    assert await store.delete_before(utcnow() - timedelta(days=90)) == 1

    kept = stored_text(settings)
    assert ("said long ago" in kept, "said today" in kept) == (False, True)
