from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from bot import cases, live
from bot.app_state import AppState
from bot.db import Database
from bot.live import InProcessBus, LiveBus, RedisBus, make_bus
from tests.helpers import factories


@pytest.fixture(params=["in-process", "redis"], ids=["in-process", "redis"])
async def bus(request: pytest.FixtureRequest, redis_url: str | None) -> AsyncIterator[LiveBus]:
    if request.param == "redis":
        if redis_url is None:
            pytest.skip("TEST_REDIS_URL is not set")
        made: LiveBus = RedisBus(redis_url)
    else:
        made = InProcessBus()
    yield made
    await made.close()


def test_make_bus() -> None:
    assert isinstance(make_bus(None), InProcessBus)
    assert isinstance(make_bus("redis://127.0.0.1:6379/15"), RedisBus)


async def test_subscriber_receives_its_organisations_events(bus: LiveBus) -> None:
    async with bus.subscription(1) as mine, bus.subscription(2) as theirs:
        bus.publish(1, {"kind": "opened", "case_id": 7, "status": "queued"})
        bus.publish(2, {"kind": "opened", "case_id": 8, "status": "queued"})

        got_mine = await mine.next(5)
        got_theirs = await theirs.next(5)
        nothing_more = await mine.next(0.2)

    assert got_mine is not None and got_theirs is not None
    assert (got_mine["case_id"], got_mine["kind"], got_mine["status"]) == (7, "opened", "queued")
    assert got_theirs["case_id"] == 8
    assert nothing_more is None


async def test_every_subscriber_of_an_organisation_receives_each_event(bus: LiveBus) -> None:
    async with bus.subscription(3) as first, bus.subscription(3) as second:
        bus.publish(3, {"kind": "claimed", "case_id": 1})

        received = [await first.next(5), await second.next(5)]

    assert [e["case_id"] if e else None for e in received] == [1, 1]


async def test_publishing_from_another_thread(bus: LiveBus) -> None:
    async with bus.subscription(4) as subscription:
        thread = threading.Thread(target=bus.publish, args=(4, {"kind": "closed", "case_id": 9}))
        thread.start()
        got = await subscription.next(5)
        thread.join()

    assert got is not None and (got["kind"], got["case_id"]) == ("closed", 9)


async def test_subscribe_iterates_with_heartbeats(bus: LiveBus) -> None:
    events = bus.subscribe(5, heartbeat=0.05)
    first = await asyncio.wait_for(anext(events), 5)
    await events.aclose()

    assert first["kind"] == live.HEARTBEAT


async def test_only_allowed_keys_travel(bus: LiveBus) -> None:
    async with bus.subscription(6) as subscription:
        bus.publish(
            6,
            {
                "kind": "message",
                "case_id": 2,
                "text": "my employer took my passport",
                "address": "+96170000000",
                "at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
            },
        )
        got = await subscription.next(5)

    assert got == {"kind": "message", "case_id": 2, "at": "2026-01-02T03:04:00+00:00"}


async def test_a_subscriber_that_falls_behind_is_told_to_reload() -> None:
    bus = InProcessBus()
    async with bus.subscription(1) as subscription:
        for number in range(live.BACKLOG + 1):
            bus.publish(1, {"kind": "opened", "case_id": number})
        await asyncio.sleep(0)  # the loop runs the deliveries
        got = await subscription.next(1)
        after = await subscription.next(0.05)

    assert (got or {}).get("kind") == live.RESYNC
    assert after is None


async def test_redis_down_loses_the_event_not_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    bus = RedisBus("redis://127.0.0.1:9/0")

    bus.publish(1, {"kind": "opened", "case_id": 1})

    await bus.close()
    assert "not published" in caplog.text


async def test_case_changes_are_published_after_commit(bus: LiveBus, db: Database) -> None:
    live.attach(db.sessions, bus)
    with db.session() as session:
        org = factories.organisation(session)
        worker = factories.user(session, org)
    async with bus.subscription(org.id) as subscription:

        def work() -> int:
            with db.session() as session:
                case = factories.case(session, priority="high")
                assert [e["kind"] for _org, e in live.pending(session)] == ["opened"]
            with db.session() as session:
                cases.claim(session, session.merge(worker), case.id)
            return case.id

        case_id = await asyncio.to_thread(work)
        opened = await subscription.next(5)
        claimed = await subscription.next(5)

    assert opened is not None and claimed is not None
    assert {k: opened[k] for k in ("kind", "case_id", "status", "priority", "language")} == {
        "kind": "opened",
        "case_id": case_id,
        "status": "queued",
        "priority": "high",
        "language": "en",
    }
    assert (claimed["kind"], claimed["status"], claimed["assigned_user_id"]) == (
        "claimed",
        "claimed",
        worker.id,
    )
    assert set(opened) <= live.ALLOWED_KEYS


async def test_rolled_back_changes_are_not_published(bus: LiveBus, db: Database) -> None:
    live.attach(db.sessions, bus)
    with db.session() as session:
        org = factories.organisation(session)
    async with bus.subscription(org.id) as subscription:

        def work() -> None:
            with pytest.raises(RuntimeError), db.session() as session:
                factories.case(session)
                raise RuntimeError("the transaction fails")

        await asyncio.to_thread(work)
        got = await subscription.next(0.3)

    assert got is None


async def test_redis_databases_do_not_hear_each_other(redis_url: str | None) -> None:
    if redis_url is None:
        pytest.skip("TEST_REDIS_URL is not set")
    base, _slash, number = redis_url.rpartition("/")
    other = (int(number or 0) + 1) % 16
    ours, theirs = RedisBus(redis_url), RedisBus(f"{base}/{other}")
    marker = secrets.randbelow(10**9) + 10**9
    try:
        async with ours.subscription(1) as mine, theirs.subscription(1) as elsewhere:
            ours.publish(1, {"kind": "opened", "case_id": marker})
            got = await mine.next(5)
            # The other database may have its own traffic: only ours must not reach it.
            overheard = []
            for _ in range(100):
                event = await elsewhere.next(0.3)
                if event is None:
                    break
                overheard.append(event.get("case_id"))
    finally:
        await ours.close()
        await theirs.close()

    assert ((got or {}).get("case_id"), marker in overheard) == (marker, False)


async def test_the_app_publishes_what_its_routes_change(
    state: AppState, client: TestClient
) -> None:
    with state.db.session() as session:
        org = factories.organisation(session)
        token = factories.token(session, factories.user(session, org))
        case_id = factories.case(session).id
    headers = {"Authorization": f"Bearer {token}"}

    async with state.live.subscription(org.id) as subscription:
        claimed = await asyncio.to_thread(
            client.post, f"/api/v1/cases/{case_id}/claim", headers=headers
        )
        event = await subscription.next(5)
        viewed = await asyncio.to_thread(client.get, f"/api/v1/cases/{case_id}", headers=headers)
        quiet = await subscription.next(0.2)

    assert (claimed.status_code, viewed.status_code) == (200, 200)
    assert event is not None
    assert (event["kind"], event["case_id"], event["status"]) == ("claimed", case_id, "claimed")
    assert quiet is None
