from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.ratelimit import RateLimiter, RedisRateLimiter, Verdict, make_rate_limiter


@pytest.fixture
async def limiter(redis_url: str | None) -> AsyncIterator[RateLimiter]:
    limiter = make_rate_limiter(redis_url)
    yield limiter
    await limiter.close()


async def test_within_the_limit_everything_passes_and_then_the_first_refusal_is_marked(
    limiter: RateLimiter,
) -> None:
    verdicts = [await limiter.hit("sender:abc", 3, window=3600) for _ in range(5)]

    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert [v.first_refusal for v in verdicts] == [False, False, False, True, False]
    assert all(0 < v.retry_after <= 3600 for v in verdicts[3:])


async def test_peeking_does_not_count(limiter: RateLimiter) -> None:
    for _ in range(3):
        assert (await limiter.peek("refused:10.0.0.9", 2, window=3600)).allowed
    await limiter.hit("refused:10.0.0.9", 2, window=3600)
    await limiter.hit("refused:10.0.0.9", 2, window=3600)

    assert not (await limiter.peek("refused:10.0.0.9", 2, window=3600)).allowed


async def test_keys_are_counted_apart(limiter: RateLimiter) -> None:
    await limiter.hit("source:10.0.0.1", 1, window=3600)

    assert (await limiter.hit("source:10.0.0.2", 1, window=3600)).allowed
    assert not (await limiter.hit("source:10.0.0.1", 1, window=3600)).allowed


async def test_an_unreachable_redis_lets_everything_through() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:9/0")
    try:
        verdicts = [await limiter.hit("sender:abc", 1) for _ in range(3)]
    finally:
        await limiter.close()

    assert verdicts == [Verdict(allowed=True)] * 3
