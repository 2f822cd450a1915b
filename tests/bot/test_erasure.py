from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot import cases, erasure
from bot.app_state import AppState
from bot.config import Settings
from bot.models import Case, utcnow
from tests.helpers import factories
from tests.helpers.app import make_state
from tests.helpers.rasa_store import stored_text, write_tracker


@pytest.fixture
async def state(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppState]:
    state = make_state(settings, monkeypatch)
    yield state
    await state.close()


async def test_erasure_deletes_the_rasa_tracker_and_tells_the_caseworker(state: AppState) -> None:
    with state.db.session() as session:
        org = factories.organisation(session)
        caseworker = factories.user(session, org)
        conversation = factories.conversation(session, channel="sms", address="+9613555000")
        factories.inbound(session, conversation, "my employer took my passport")
        case = factories.case(session, conversation)
        cases.claim(session, caseworker, case.id)
        conversation_id, pseudonym = conversation.id, conversation.contact.pseudonym
    write_tracker(state.settings, pseudonym, "my employer took my passport", utcnow())
    write_tracker(state.settings, "c_someone_else", "another person", utcnow())

    await erasure.erase(state, conversation_id)

    kept = stored_text(state.settings)
    assert ("my employer took my passport" in kept, "another person" in kept) == (False, True)
    with state.db.session() as session:
        erased = session.scalars(select(Case)).one()
        # The caseworker's case list and timeline say why the case closed.
        assert (erased.status, erased.outcome) == (cases.CLOSED, "erased")
        assert [e.kind for e in erased.events][-1:] == ["closed"]
        assert erased.events[-1].data == {"outcome": "erased"}
