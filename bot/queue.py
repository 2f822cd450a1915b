"""Wake-ups for the worker: "conversation N has work".

The SQL inbox is the truth; the queue only says where to look, so a lost wake-up
costs a delay (the worker's sweep finds it), never a message. With ``REDIS_URL`` the
queue is a Redis stream read by a consumer group, so several worker processes share
it; otherwise an in-process asyncio queue. Each conversation is handled by one
worker at a time (``lock``), which keeps its messages in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

STREAM = "helpline:work"
GROUP = "workers"
# A conversation's lock expires this long after its holder stops renewing it (a worker
# killed mid-message), so that another worker takes the conversation over quickly.
LOCK_SECONDS = 20
LOCK_RENEW_SECONDS = 5
# A wake-up its consumer has not acknowledged for this long is taken over by another;
# consumers look for such wake-ups at most this often.
CLAIM_IDLE_SECONDS = 60.0
CLAIM_EVERY_SECONDS = 5.0


class WorkQueue(ABC):
    @abstractmethod
    async def put(self, conversation_id: int) -> None: ...

    @abstractmethod
    async def get(self) -> tuple[int, str | None]:
        """The next conversation id and a receipt to ``ack`` once handled."""

    async def ack(self, receipt: str | None) -> None:  # noqa: B027 - optional for subclasses
        """Confirm a wake-up was handled (a no-op in process)."""

    @abstractmethod
    def lock(self, conversation_id: int) -> contextlib.AbstractAsyncContextManager[None]: ...

    async def ping(self) -> None:  # noqa: B027
        """Raise when the queue's backend is unreachable."""

    async def trim_before(self, cutoff: datetime) -> int:
        """Drop wake-ups older than ``cutoff`` (retention); in process there are none."""
        return 0

    async def close(self) -> None:  # noqa: B027
        """Release connections."""


class InProcessQueue(WorkQueue):
    def __init__(self) -> None:
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._waiting: set[int] = set()
        # Each conversation's lock and how many tasks hold or wait for it.
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def put(self, conversation_id: int) -> None:
        # A conversation already waiting will be read in full; one wake-up is enough.
        if conversation_id not in self._waiting:
            self._waiting.add(conversation_id)
            self._queue.put_nowait(conversation_id)

    async def get(self) -> tuple[int, str | None]:
        conversation_id = await self._queue.get()
        self._waiting.discard(conversation_id)
        return conversation_id, None

    @contextlib.asynccontextmanager
    async def lock(self, conversation_id: int) -> AsyncIterator[None]:
        lock, users = self._locks.get(conversation_id, (asyncio.Lock(), 0))
        self._locks[conversation_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[conversation_id]
            if users == 1:
                del self._locks[conversation_id]
            else:
                self._locks[conversation_id] = (lock, users - 1)


class RedisQueue(WorkQueue):
    def __init__(
        self,
        url: str,
        *,
        consumer: str | None = None,
        claim_idle_seconds: float = CLAIM_IDLE_SECONDS,
    ) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, decode_responses=True)
        self._consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self._group_ready = False
        self._claim_idle_ms = int(claim_idle_seconds * 1000)
        # Looking for what a dead consumer left costs a round trip: not before every read.
        self._next_claim = 0.0

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        import redis.exceptions

        try:
            await self._redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True

    async def put(self, conversation_id: int) -> None:
        await self._redis.xadd(STREAM, {"conversation": str(conversation_id)}, maxlen=100_000)

    async def get(self) -> tuple[int, str | None]:
        import redis.exceptions

        try:
            return await self._next()
        except redis.exceptions.ResponseError as error:
            # Redis restarted without its data: the stream and the group are gone.
            if "NOGROUP" in str(error):
                self._group_ready = False
            raise

    async def _next(self) -> tuple[int, str | None]:
        await self._ensure_group()
        while True:
            # Wake-ups a dead consumer left unacknowledged are taken over after a minute.
            if time.monotonic() >= self._next_claim:
                autoclaimed: Any = await self._redis.xautoclaim(
                    STREAM, GROUP, self._consumer, min_idle_time=self._claim_idle_ms, count=1
                )
                claimed = autoclaimed[1]
                if claimed:
                    entry_id, fields = claimed[0]
                    return int(fields["conversation"]), entry_id
                self._next_claim = time.monotonic() + CLAIM_EVERY_SECONDS
            entries: Any = await self._redis.xreadgroup(
                GROUP, self._consumer, {STREAM: ">"}, count=1, block=1000
            )
            if entries:
                entry_id, fields = entries[0][1][0]
                return int(fields["conversation"]), entry_id

    async def ack(self, receipt: str | None) -> None:
        if receipt is not None:
            # One round trip for both.
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xack(STREAM, GROUP, receipt)
                pipe.xdel(STREAM, receipt)
                await pipe.execute()

    @contextlib.asynccontextmanager
    async def lock(self, conversation_id: int) -> AsyncIterator[None]:
        lock = self._redis.lock(
            f"helpline:lock:conversation:{conversation_id}",
            timeout=LOCK_SECONDS,
            blocking_timeout=None,
        )
        await lock.acquire()

        async def renew() -> None:
            while True:
                await asyncio.sleep(LOCK_RENEW_SECONDS)
                try:
                    await lock.reacquire()
                except Exception as error:  # Redis away or restarted: the next renewal may work
                    log.warning(
                        "conversation %s: lock not renewed (%s)",
                        conversation_id,
                        type(error).__name__,
                    )

        renewing = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            with contextlib.suppress(Exception):
                await lock.release()

    async def trim_before(self, cutoff: datetime) -> int:
        # Stream entry ids start with their time in milliseconds.
        trimmed: int = await self._redis.xtrim(
            STREAM, minid=str(int(cutoff.timestamp() * 1000)), approximate=False
        )
        return trimmed

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


def make_queue(redis_url: str | None) -> WorkQueue:
    return RedisQueue(redis_url) if redis_url else InProcessQueue()
