"""Every backend: exact under concurrency, several windows at once."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis

from stackkit.cache import RedisStore, StoreUnavailable
from stackkit.ratelimit import (
    RateLimitBackend,
    RateLimited,
    RateLimiter,
    RateLimitUnavailable,
    RedisRateLimitBackend,
    parse_limits,
)
from stackkit.testing import RedisProcess, unique_key_prefix


async def test_200_concurrent_requests_against_50_let_exactly_50_through(
    backend: RateLimitBackend,
) -> None:
    rates = parse_limits("50/minute")
    decisions = await asyncio.gather(*(backend.acquire("client-a", rates) for _ in range(200)))
    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == 50
    assert sorted(d.remaining for d in allowed) == list(range(50))
    refused = [d for d in decisions if not d.allowed]
    assert all(0 < d.retry_after <= 1.21 for d in refused)  # one interval: 60 s / 50


async def test_keys_are_counted_apart(backend: RateLimitBackend) -> None:
    rates = parse_limits("2/minute")
    for _ in range(2):
        assert (await backend.acquire("a", rates)).allowed
    assert not (await backend.acquire("a", rates)).allowed
    assert (await backend.acquire("b", rates)).allowed


async def test_every_window_must_allow(backend: RateLimitBackend) -> None:
    rates = parse_limits("3/second;4/hour")
    outcomes = [(await backend.acquire("k", rates)).allowed for _ in range(5)]
    assert outcomes == [True, True, True, False, False]  # the second's burst of 3
    refused = await backend.acquire("k", rates)
    assert refused.retry_after > 0
    assert refused.limit == 3


async def test_a_refused_request_does_not_use_up_any_window(backend: RateLimitBackend) -> None:
    per_second = parse_limits("1/second;100/hour")
    assert (await backend.acquire("k", per_second)).allowed
    for _ in range(5):
        assert not (await backend.acquire("k", per_second)).allowed
    hourly = await backend.acquire("k", parse_limits("100/hour"))  # the same key of the hour
    assert hourly.remaining == 98  # one request counted, not six


async def test_enforce_raises_429_with_headers(backend: RateLimitBackend) -> None:
    limiter = RateLimiter(backend)
    await limiter.enforce("login:ada", "1/minute")
    with pytest.raises(RateLimited) as raised:
        await limiter.enforce("login:ada", "1/minute")
    assert raised.value.status == 429
    headers = raised.value.headers
    assert headers["RateLimit-Limit"] == "1"
    assert headers["RateLimit-Remaining"] == "0"
    assert 59 <= int(headers["Retry-After"]) <= 60


async def test_unreachable_redis_fails_open_by_default_and_closed_on_request(
    redis_process: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(redis_process.url, prefix=unique_key_prefix(), timeout=0.3)
    await store.open()
    try:
        limiter = RateLimiter(RedisRateLimitBackend(store))
        assert (await limiter.hit("k", "1/minute")).allowed
        assert not (await limiter.hit("k", "1/minute")).allowed
        redis_process.stop()
        assert (await limiter.hit("k", "1/minute")).allowed  # fail open
        with pytest.raises(RateLimitUnavailable) as raised:
            await limiter.hit("k", "1/minute", fail_open=False)
        assert raised.value.status == 503
        redis_process.start()  # empty again: the key starts afresh
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            try:
                decision = await limiter.hit("k", "1/minute", fail_open=False)
                break
            except RateLimitUnavailable:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
        assert decision.allowed
        assert not (await limiter.hit("k", "1/minute")).allowed  # counting again
    finally:
        await store.close()


async def test_very_high_rates_are_still_counted(backend: RateLimitBackend) -> None:
    """A rate above a million a second is a limit still, not rounded to none."""
    rates = parse_limits("3000000/second")
    allowed = await backend.acquire("busy", rates)
    assert allowed.allowed
    assert 0 <= allowed.remaining <= 2_999_999
    too_many = await backend.acquire("busy", rates, cost=3_000_001)  # more than the burst
    assert not too_many.allowed


async def test_a_full_redis_counts_as_unavailable(redis_process: RedisProcess) -> None:
    # Under `noeviction`, a Redis at its memory limit answers writes with OOM: the
    # limiter must treat that as an outage (fail open, or 503 when closed), not a 500.
    store = RedisStore(redis_process.url, prefix=unique_key_prefix(), timeout=1)
    await store.open()
    admin = redis.Redis.from_url(redis_process.url)
    try:
        limiter = RateLimiter(RedisRateLimitBackend(store))
        assert (await limiter.hit("k", "1/minute")).allowed
        used = int((await admin.info("memory"))["used_memory"])
        await admin.config_set("maxmemory-policy", "noeviction")
        await admin.config_set("maxmemory", str(used + 1))
        with pytest.raises(StoreUnavailable):
            await store.set("big", b"x" * 100_000)
        assert (await limiter.hit("new-key", "1/minute")).allowed  # fail open
        with pytest.raises(RateLimitUnavailable):
            await limiter.hit("other-key", "1/minute", fail_open=False)
    finally:
        await admin.aclose()
        await store.close()
