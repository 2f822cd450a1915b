from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.app_state import DATABASE_THREADS, AppState
from bot.config import Settings
from channels import webhooks
from channels.base import Inbound
from tests.helpers.app import make_state


@pytest.fixture
async def state(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppState]:
    state = make_state(settings, monkeypatch)
    yield state
    await state.close()


def thread_name() -> str:
    return threading.current_thread().name


async def test_database_work_gets_a_thread_per_pooled_connection(state: AppState) -> None:
    state.use_database_threads()
    release = threading.Event()
    started = threading.Semaphore(0)

    def hold() -> str:
        started.release()
        release.wait(10)
        return thread_name()

    holders = [asyncio.create_task(asyncio.to_thread(hold)) for _ in range(DATABASE_THREADS)]
    for _ in range(DATABASE_THREADS):
        assert await asyncio.to_thread(started.acquire, True, 10)
    release.set()
    names = await asyncio.gather(*holders)

    assert len(set(names)) == DATABASE_THREADS
    assert all(name.startswith("database") for name in names)


async def test_an_inbound_message_is_stored_while_every_database_thread_is_busy(
    state: AppState,
) -> None:
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(1))
    release = threading.Event()
    busy = asyncio.create_task(asyncio.to_thread(release.wait, 10))
    inbound = Inbound(channel="sms", address="+96170000001", provider_id="SM1", text="help")

    try:
        accepted = await asyncio.wait_for(webhooks.store(state, inbound), timeout=5)
    finally:
        release.set()
        await busy

    assert accepted is not None
    assert accepted.duplicate is False
    # Any of the inbox's own threads: which one depends on how fast the first went idle.
    assert (await state.in_inbox_thread(thread_name)).startswith("inbox_")
