from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.queue import GROUP, STREAM, InProcessQueue, RedisQueue, WorkQueue, make_queue


@pytest.fixture(params=["in-process", "redis"], ids=["in-process", "redis"])
async def queue(request: pytest.FixtureRequest, redis_url: str | None) -> AsyncIterator[WorkQueue]:
    if request.param == "redis":
        if redis_url is None:
            pytest.skip("TEST_REDIS_URL is not set")
        work: WorkQueue = RedisQueue(redis_url)
    else:
        work = InProcessQueue()
    yield work
    await work.close()


def test_make_queue() -> None:
    assert isinstance(make_queue(None), InProcessQueue)
    assert isinstance(make_queue("redis://127.0.0.1:6379/15"), RedisQueue)


async def test_put_get_ack(queue: WorkQueue) -> None:
    await queue.put(7)
    await queue.put(8)

    first, receipt_first = await asyncio.wait_for(queue.get(), 5)
    await queue.ack(receipt_first)
    second, receipt_second = await asyncio.wait_for(queue.get(), 5)
    await queue.ack(receipt_second)

    assert (first, second) == (7, 8)


async def test_get_waits_for_a_put(queue: WorkQueue) -> None:
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0.05)
    assert not waiting.done()

    await queue.put(3)

    conversation_id, receipt = await asyncio.wait_for(waiting, 5)
    await queue.ack(receipt)
    assert conversation_id == 3


async def test_ping(queue: WorkQueue) -> None:
    await queue.ping()


async def test_in_process_queue_wakes_a_waiting_conversation_once() -> None:
    queue = InProcessQueue()
    await queue.put(1)
    await queue.put(1)
    await queue.put(2)

    assert [(await queue.get())[0], (await queue.get())[0]] == [1, 2]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(queue.get(), 0.05)
    # Once taken, the conversation can be woken again.
    await queue.put(1)
    assert (await queue.get())[0] == 1


async def test_redis_ack_removes_the_entry(redis_url: str | None) -> None:
    if redis_url is None:
        pytest.skip("TEST_REDIS_URL is not set")
    import redis.asyncio as redis

    queue = RedisQueue(redis_url)
    client = redis.from_url(redis_url)
    try:
        await queue.put(42)
        conversation_id, receipt = await asyncio.wait_for(queue.get(), 5)
        pending_before = (await client.xpending(STREAM, GROUP))["pending"]
        await queue.ack(receipt)

        assert (conversation_id, pending_before) == (42, 1)
        assert (await client.xpending(STREAM, GROUP))["pending"] == 0
        assert await client.xlen(STREAM) == 0
    finally:
        await client.aclose()
        await queue.close()


async def test_lock_serialises_a_conversation(queue: WorkQueue) -> None:
    log: list[str] = []
    first_inside = asyncio.Event()

    async def handle(name: str, inside: asyncio.Event | None = None) -> None:
        async with queue.lock(5):
            log.append(f"{name} start")
            if inside is not None:
                inside.set()
            await asyncio.sleep(0.05)
            log.append(f"{name} end")

    first = asyncio.create_task(handle("first", first_inside))
    await asyncio.wait_for(first_inside.wait(), 5)
    second = asyncio.create_task(handle("second"))
    await asyncio.wait_for(asyncio.gather(first, second), 10)

    assert log == ["first start", "first end", "second start", "second end"]


async def test_other_conversations_are_not_blocked(queue: WorkQueue) -> None:
    other_done = asyncio.Event()

    async with queue.lock(5):

        async def other() -> None:
            async with queue.lock(6):
                other_done.set()

        task = asyncio.create_task(other())
        await asyncio.wait_for(other_done.wait(), 5)
    await task


async def test_lock_is_released_after_an_error(queue: WorkQueue) -> None:
    with pytest.raises(RuntimeError):
        async with queue.lock(9):
            raise RuntimeError("handler failed")

    async with asyncio.timeout(5), queue.lock(9):
        pass


async def test_redis_wake_ups_a_dead_consumer_left_are_taken_over(redis_url: str | None) -> None:
    if redis_url is None:
        pytest.skip("TEST_REDIS_URL is not set")
    dead = RedisQueue(redis_url, consumer="dead")
    alive = RedisQueue(redis_url, consumer="alive", claim_idle_seconds=0.05)
    try:
        await dead.put(7)
        assert (await asyncio.wait_for(dead.get(), 5))[0] == 7  # taken, never acknowledged
        await asyncio.sleep(0.1)

        conversation_id, receipt = await asyncio.wait_for(alive.get(), 5)
        await alive.ack(receipt)

        assert conversation_id == 7
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(alive.get(), 0.2)
    finally:
        await dead.close()
        await alive.close()


async def test_redis_queue_reads_again_after_redis_lost_its_data(redis_url: str | None) -> None:
    if redis_url is None:
        pytest.skip("TEST_REDIS_URL is not set")
    import redis.asyncio as redis
    from redis.exceptions import ResponseError

    queue = RedisQueue(redis_url)
    client = redis.from_url(redis_url)
    try:
        await queue.put(1)
        assert (await asyncio.wait_for(queue.get(), 5))[0] == 1
        await client.flushdb()  # a restart without persistence: stream and group gone

        with pytest.raises(ResponseError, match="NOGROUP"):
            await queue.get()
        await queue.put(2)

        assert (await asyncio.wait_for(queue.get(), 5))[0] == 2
    finally:
        await client.aclose()
        await queue.close()


async def test_redis_lock_is_renewed_while_held_and_expires_when_its_holder_is_gone(
    redis_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if redis_url is None:
        pytest.skip("TEST_REDIS_URL is not set")
    import redis.asyncio as redis

    from bot import queue as queue_module

    monkeypatch.setattr(queue_module, "LOCK_SECONDS", 1)
    monkeypatch.setattr(queue_module, "LOCK_RENEW_SECONDS", 0.2)
    queue = RedisQueue(redis_url)
    client = redis.from_url(redis_url)
    key = "helpline:lock:conversation:7"
    try:
        async with queue.lock(7):
            await asyncio.sleep(1.5)  # longer than the lock's own life: renewed meanwhile
            assert await client.pttl(key) > 0
        assert await client.exists(key) == 0

        # A holder that dies (no renewal, no release) frees the conversation within LOCK_SECONDS.
        held = client.lock(key, timeout=1)
        assert await held.acquire()
        async with queue.lock(7):
            assert await client.exists(key) == 1
    finally:
        await client.aclose()
        await queue.close()
