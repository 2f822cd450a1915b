"""Live updates of an organisation's cases, for the dashboard's queue.

``publish(org_id, event)`` is synchronous and safe from any thread: the case service
runs in worker threads. ``subscribe(org_id)`` is an async iterator of events. With
``REDIS_URL`` events travel through Redis pub/sub, so a dashboard served by one
process sees the cases a worker process changed; otherwise they stay in process.

Events carry ids, statuses, priorities, languages, channels and timestamps, never a
message body or an address: a live event is a hint to reload, not a record. Losing
one costs a stale screen until the next event or reload, never a case.

The case service does not publish directly: it records events on its SQL session
(``record``) and they are published once that session commits (``attach``), so a
subscriber never hears about a change it cannot read yet, nor one rolled back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from bot.models import utcnow

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "helpline:live:"
# Events a slow subscriber may have waiting before it is told to reload instead.
BACKLOG = 1000
# The keys an event may carry; anything else is dropped before publishing.
ALLOWED_KEYS = frozenset(
    {
        "kind",
        "case_id",
        "organisation_id",
        "status",
        "priority",
        "language",
        "channel",
        "assigned_user_id",
        "user_id",
        "alert_id",
        # "in" or "out" for a message event: which way, never what.
        "direction",
        "at",
        "opened_at",
        "deadline_at",
    }
)
SUBSCRIBE_TIMEOUT = 5.0
HEARTBEAT = "heartbeat"
# Told to a subscriber that fell behind: some events were lost, reload the queue.
RESYNC = "resync"
_PENDING = "helpline.live.pending"


def clean(event: dict[str, Any]) -> dict[str, Any]:
    """Only the allowed keys, values made JSON-ready; ``at`` defaults to now."""
    out = {k: v for k, v in event.items() if k in ALLOWED_KEYS}
    out.setdefault("at", utcnow())
    for key, value in out.items():
        if hasattr(value, "isoformat"):
            out[key] = value.isoformat()
    return out


class Subscription(ABC):
    """Events of one organisation, from the moment the subscription was made."""

    @abstractmethod
    async def next(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next event, or None when ``timeout`` seconds pass without one."""

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        event = await self.next()
        assert event is not None
        return event


class LiveBus(ABC):
    @abstractmethod
    def publish(self, org_id: int, event: dict[str, Any]) -> None:
        """Send an event to the organisation's subscribers; never raises for a lost event."""

    @abstractmethod
    def subscription(self, org_id: int) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Subscribe on entering; events published after that are received."""

    async def subscribe(
        self, org_id: int, *, heartbeat: float | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Events of the organisation; a ``heartbeat`` event after that many quiet seconds."""
        async with self.subscription(org_id) as subscription:
            while True:
                got = await subscription.next(heartbeat)
                yield got if got is not None else clean({"kind": HEARTBEAT})

    async def close(self) -> None:  # noqa: B027 - optional for subclasses
        """Release connections."""


class _LocalSubscription(Subscription):
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(BACKLOG)

    def offer(self, event: dict[str, Any]) -> None:
        """Runs on the subscriber's loop."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(clean({"kind": RESYNC}))

    async def next(self, timeout: float | None = None) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class InProcessBus(LiveBus):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[_LocalSubscription]] = {}

    def publish(self, org_id: int, event: dict[str, Any]) -> None:
        event = clean(event)
        with self._lock:
            subscribers = list(self._subscribers.get(org_id, ()))
        for subscriber in subscribers:
            with contextlib.suppress(RuntimeError):  # its loop closed meanwhile
                subscriber.loop.call_soon_threadsafe(subscriber.offer, dict(event))

    @contextlib.asynccontextmanager
    async def subscription(self, org_id: int) -> AsyncIterator[Subscription]:
        subscriber = _LocalSubscription()
        with self._lock:
            self._subscribers.setdefault(org_id, set()).add(subscriber)
        try:
            yield subscriber
        finally:
            with self._lock:
                group = self._subscribers.get(org_id, set())
                group.discard(subscriber)
                if not group:
                    self._subscribers.pop(org_id, None)


class _RedisSubscription(Subscription):
    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub

    async def next(self, timeout: float | None = None) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            wait = 1.0 if deadline is None else max(0.0, deadline - loop.time())
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
            if message is not None and message.get("type") == "message":
                try:
                    event: dict[str, Any] = json.loads(message["data"])
                except ValueError:
                    log.warning("live: an unreadable event was skipped")
                    continue
                return event
            if deadline is not None and loop.time() >= deadline:
                return None


class RedisBus(LiveBus):
    def __init__(self, url: str) -> None:
        import redis
        import redis.asyncio

        # Redis pub/sub ignores the database number: the channel names carry it, so that
        # helplines sharing a Redis server on different databases do not hear each other.
        database = redis.connection.parse_url(url).get("db", 0)
        self._prefix = f"{CHANNEL_PREFIX}{database}:"
        # Publishing happens in the case service's threads: a synchronous client.
        self._publisher = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._subscriber = redis.asyncio.Redis.from_url(url, decode_responses=True)

    def publish(self, org_id: int, event: dict[str, Any]) -> None:
        import redis.exceptions

        try:
            self._publisher.publish(f"{self._prefix}{org_id}", json.dumps(clean(event)))
        except redis.exceptions.RedisError as error:
            log.warning("live: event for organisation %s not published: %s", org_id, error)

    @contextlib.asynccontextmanager
    async def subscription(self, org_id: int) -> AsyncIterator[Subscription]:
        pubsub = self._subscriber.pubsub()
        await pubsub.subscribe(f"{self._prefix}{org_id}")
        # SUBSCRIBE is only sent; wait for Redis to confirm it, so that what is
        # published from now on (on other connections) is received.
        confirmed = None
        while confirmed is None or confirmed.get("type") != "subscribe":
            confirmed = await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT)
            if confirmed is None:
                await pubsub.aclose()
                raise TimeoutError("Redis did not confirm the live-update subscription")
        try:
            yield _RedisSubscription(pubsub)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe()
            await pubsub.aclose()

    async def close(self) -> None:
        self._publisher.close()
        await self._subscriber.aclose()


def make_bus(redis_url: str | None) -> LiveBus:
    return RedisBus(redis_url) if redis_url else InProcessBus()


def record(session: Session, org_id: int, event: dict[str, Any]) -> None:
    """Publish ``event`` to the organisation once ``session`` commits; dropped on rollback."""
    session.info.setdefault(_PENDING, []).append((org_id, clean(event)))


def _take(session: Session) -> list[tuple[int, dict[str, Any]]]:
    pending: list[tuple[int, dict[str, Any]]] = session.info.pop(_PENDING, [])
    return pending


def attach(sessions: sessionmaker[Session], bus: LiveBus) -> None:
    """Publish what sessions made by ``sessions`` recorded, after each commit."""

    def after_commit(session: Session) -> None:
        for org_id, payload in _take(session):
            bus.publish(org_id, payload)

    def after_rollback(session: Session) -> None:
        _take(session)

    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_rollback", after_rollback)


def pending(session: Session) -> Iterator[tuple[int, dict[str, Any]]]:
    """What the session will publish when it commits (for tests and diagnostics)."""
    yield from session.info.get(_PENDING, [])
