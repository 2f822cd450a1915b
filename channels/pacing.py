"""Sending no faster than a provider allows: token buckets per person and overall.

Telegram asks bots to send about one message a second to a chat (short bursts pass)
and at most about thirty a second in all. A send takes a token from the person's
bucket and from the channel's; when either is empty it waits for the next one. The
buckets live in the process: several worker processes each keep their own pace.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# Idle buckets are forgotten beyond this many people.
MAX_TRACKED = 10_000


@dataclass(frozen=True)
class Pace:
    per_address: float  # messages a second to one person
    per_address_burst: int
    overall: float  # messages a second in all
    overall_burst: int


class _Bucket:
    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now

    def reserve(self, now: float) -> float:
        """Take a token, possibly one not there yet; returns the seconds until it is."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def full(self, now: float) -> bool:
        return self.tokens + (now - self.updated) * self.rate >= self.burst


class Pacer:
    def __init__(
        self,
        pace: Pace,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.pace = pace
        self._clock = clock
        self._sleep = sleep
        self._overall = _Bucket(pace.overall, pace.overall_burst, clock())
        self._people: dict[str, _Bucket] = {}

    def delay(self, address: str) -> float:
        """Reserve a send to ``address``; returns how long to wait before it."""
        now = self._clock()
        bucket = self._people.get(address)
        if bucket is None:
            if len(self._people) >= MAX_TRACKED:
                self._people = {a: b for a, b in self._people.items() if not b.full(now)}
            bucket = self._people[address] = _Bucket(
                self.pace.per_address, self.pace.per_address_burst, now
            )
        return max(bucket.reserve(now), self._overall.reserve(now))

    async def wait(self, address: str) -> None:
        delay = self.delay(address)
        if delay > 0:
            await self._sleep(delay)
