from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from bot.app_state import DATABASE_THREADS, AppState
from bot.config import Settings
from bot.inbox import Accepted, accept
from bot.models import Contact, Message
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
    assert await state.inbox.write(lambda session: thread_name()) == "inbox_0"


async def test_inbound_messages_that_arrive_together_are_stored_in_one_transaction(
    state: AppState,
) -> None:
    commits: list[int] = []
    event.listen(state.db.engine, "commit", lambda connection: commits.append(1))
    burst = [
        Inbound(channel="sms", address=f"+9617000010{n}", provider_id=f"SM-{n}", text="help")
        for n in range(5)
    ]
    # The same new person twice, and a provider delivering the same message again.
    again = Inbound(channel="sms", address="+96170000100", provider_id="SM-5", text="me again")
    repeat = Inbound(channel="sms", address="+96170000100", provider_id="SM-0", text="help")

    def storing(inbound: Inbound) -> Callable[[Session], Accepted]:
        return lambda session: accept(session, inbound)

    accepted = await asyncio.gather(
        *(state.inbox.write(storing(inbound)) for inbound in [*burst, again, repeat])
    )

    assert len(commits) == 1
    assert [a.duplicate for a in accepted] == [False] * 6 + [True]
    assert accepted[6].message_id == accepted[0].message_id
    assert accepted[5].conversation_id == accepted[0].conversation_id
    with state.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 5
        assert session.scalar(select(func.count()).select_from(Message)) == 6
