"""Rate limits: fixed windows (a minute) counted in Redis, or in process without it.

Two limits guard the webhooks (settings ``HELPLINE_RATE_LIMIT_SOURCE`` and
``HELPLINE_RATE_LIMIT_SENDER``, per minute):
- per source address, of refused requests (bad signature or secret, malformed,
  oversized): beyond the limit, every request from that address is answered 429 with
  Retry-After before anything is read, so forging and probing stop being cheap.
  Requests the provider signed never count: behind a proxy, or when a provider sends
  a burst, nothing valid is ever turned away;
- per sender (the keyed hash of their address, never the address): a message over
  the limit is still stored, nothing valid is lost, but the bot does not read it;
  the person is told once per window, in their language, that they write too fast.
A Redis that does not answer lets everything through: a limit is a protection,
never a reason to lose a message.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# What a refused webhook request is answered with; these count against its source.
REFUSALS = frozenset({400, 401, 403, 404, 405, 413, 415, 422})
# Messages beyond the per-sender limit carry one of these in ``Message.error``; the first
# of a window is answered "you are writing too fast".
RATE_LIMITED = "rate_limited"
RATE_LIMITED_FIRST = "rate_limited_first"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    # Seconds until the window that refused opens again (0 when allowed).
    retry_after: int = 0
    # Whether this is the first refusal of the window (to answer it once).
    first_refusal: bool = False


class RateLimiter(ABC):
    async def hit(self, key: str, limit: int, window: int | None = None) -> Verdict:
        """Count one event under ``key``; refused beyond ``limit`` per ``window`` seconds."""
        return await self._count(key, limit, window, add=1)

    async def peek(self, key: str, limit: int, window: int | None = None) -> Verdict:
        """Whether one more event under ``key`` would be allowed, without counting it."""
        return await self._count(key, limit - 1, window, add=0)

    async def _count(self, key: str, limit: int, window: int | None, add: int) -> Verdict:
        window = window or WINDOW_SECONDS
        now = time.time()
        slot = int(now // window)
        retry_after = max(1, int(window - now % window))
        try:
            count = await self._incr(f"{key}:{slot}", window, add)
        except Exception as error:
            log.warning("rate limit not counted (%s): let through", type(error).__name__)
            return Verdict(allowed=True)
        if count <= limit:
            return Verdict(allowed=True)
        return Verdict(allowed=False, retry_after=retry_after, first_refusal=count == limit + 1)

    @abstractmethod
    async def _incr(self, key: str, window: int, add: int) -> int:
        """Add ``add`` to the counter ``key`` (kept ``window`` seconds); returns its value."""

    async def close(self) -> None:  # noqa: B027 - optional for subclasses
        """Release connections."""


class InProcessRateLimiter(RateLimiter):
    def __init__(self) -> None:
        self._counts: dict[str, tuple[float, int]] = {}

    async def _incr(self, key: str, window: int, add: int) -> int:
        now = time.monotonic()
        if len(self._counts) > 10_000:
            self._counts = {k: v for k, v in self._counts.items() if v[0] > now}
        expires, count = self._counts.get(key, (now + window, 0))
        if add:
            self._counts[key] = (expires, count + add)
        return count + add


class RedisRateLimiter(RateLimiter):
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, decode_responses=True, socket_timeout=2.0)

    async def _incr(self, key: str, window: int, add: int) -> int:
        name = f"helpline:rate:{key}"
        if not add:
            return int(await self._redis.get(name) or 0)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(name, add)
            pipe.expire(name, window + 1)
            count, _ = await pipe.execute()
        return int(count)

    async def close(self) -> None:
        await self._redis.aclose()


async def _too_many(send: Any, retry_after: int) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [(b"retry-after", str(retry_after).encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def make_rate_limiter(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else InProcessRateLimiter()


class SourceLimit:
    """ASGI middleware: a source with too many refused webhook requests gets 429 a while.

    A source with no refusal lately is looked up again only after ``CLEAR_FOR_SECONDS``:
    a provider's burst of valid requests costs no Redis round trip each, and refusals
    another process counted are seen that much later at most.
    """

    CLEAR_FOR_SECONDS = 1.0
    MAX_REMEMBERED = 10_000

    def __init__(self, app: Any, limiter: RateLimiter, limit: int, prefix: str = "/webhooks/"):
        self.app, self.limiter, self.limit, self.prefix = app, limiter, limit, prefix
        self._clear_until: dict[str, float] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        # Behind a proxy, uvicorn's --proxy-headers puts the original address here.
        key = f"refused:{(scope.get('client') or ('unknown', 0))[0]}"
        now = time.monotonic()
        if self._clear_until.get(key, 0.0) <= now:
            verdict = await self.limiter.peek(key, self.limit)
            if not verdict.allowed:
                await _too_many(send, verdict.retry_after)
                return
            if len(self._clear_until) >= self.MAX_REMEMBERED:
                self._clear_until = {k: t for k, t in self._clear_until.items() if t > now}
            self._clear_until[key] = now + self.CLEAR_FOR_SECONDS
        status = 0

        async def watch(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status in REFUSALS:
            self._clear_until.pop(key, None)  # looked up again from the next request on
            counted = await self.limiter.hit(key, self.limit)
            if counted.first_refusal:
                log.warning(
                    "webhooks: one source refused %d times this minute; it waits", self.limit
                )
