"""Every backend: exact under concurrency, several windows at once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio as redis

from stackkit.cache import RedisStore, StoreUnavailable
from stackkit.cache.redis_batch import TurnPipeline
from stackkit.ratelimit import (
    MemoryRateLimitBackend,
    Rate,
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
        await store.set("session", b"alive", ttl=60)
        used = int((await admin.info("memory"))["used_memory"])
        await admin.config_set("maxmemory-policy", "noeviction")
        await admin.config_set("maxmemory", str(used + 1))
        with pytest.raises(StoreUnavailable):
            await store.set("big", b"x" * 100_000)
        assert (await limiter.hit("new-key", "1/minute")).allowed  # fail open
        with pytest.raises(RateLimitUnavailable):
            await limiter.hit("other-key", "1/minute", fail_open=False)
        # A check that reads a session too: the reads still come back, so the session is
        # still checked; only the decision says the store did not answer.
        sent = limiter.hit_and_read_soon(
            "third-key", "1/minute", guard="session", reads=["session"]
        )
        assert sent is not None
        decision, values = sent
        assert await values == [b"alive"]
        with pytest.raises(StoreUnavailable):
            await decision
        settled = await limiter.settle(decision, "1/minute")
        assert settled is not None
        assert settled.allowed  # fail open
    finally:
        await admin.aclose()
        await store.close()


def test_a_memory_limiter_keeps_100_000_keys_unless_told() -> None:
    assert MemoryRateLimitBackend().max_keys == 100_000


@pytest.mark.parametrize("limit", ["2/minute", "2/minute;10/hour"])
async def test_a_full_memory_limiter_evicts_the_least_recently_used_key(limit: str) -> None:
    """At `max_keys`, a new key pushes out the key used longest ago (which starts again
    with a full burst), never the key just used: a full limiter keeps limiting."""
    rates = parse_limits(limit)
    backend = MemoryRateLimitBackend(max_keys=3 * len(rates))
    for key in ("a", "b", "c", "a"):  # "a" is used again: "b" is now the oldest
        assert (await backend.acquire(key, rates)).allowed
    assert (await backend.acquire("d", rates)).allowed  # one key too many: "b" goes
    assert not (await backend.acquire("a", rates)).allowed  # kept: its budget is spent
    assert [(await backend.acquire("b", rates)).allowed for _ in range(3)] == [True, True, False]
    assert len(backend._tats) <= 3 * len(rates)


async def test_redis_keys_live_as_long_as_their_window(
    redis_backend: RedisRateLimitBackend,
) -> None:
    """A counter expires when its window has passed, not sooner (which would reset the
    limit) and not much later (which would keep dead keys)."""
    backend = redis_backend
    decision = await backend.acquire("ttl", parse_limits("10/hour"))
    client = backend.store.client
    (key,) = [k async for k in client.scan_iter(match=f"{backend.store.prefix}*")]
    expected_ms = decision.reset_after * 1000
    assert abs(await client.pttl(key) - expected_ms) <= 500, (decision, expected_ms)


async def test_checks_that_arrive_together_go_to_redis_as_one_pipeline(
    redis_backend: RedisRateLimitBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks of one turn of the event loop share the store's pipeline (with its
    reads); on a cluster, its client splits it by node and sends to each at once."""
    backend = redis_backend
    batches: list[int] = []
    send = TurnPipeline._send

    async def counted(pipeline: TurnPipeline, batch: list[Any]) -> None:
        batches.append(len(batch))
        await send(pipeline, batch)

    monkeypatch.setattr(TurnPipeline, "_send", counted)
    rates = parse_limits("100/minute")
    await backend.acquire("warm", rates)  # the script loaded
    batches.clear()
    decisions = await asyncio.gather(*(backend.acquire(f"k{n % 5}", rates) for n in range(50)))
    assert all(d is not None and d.allowed for d in decisions)
    assert (await backend.acquire("alone", rates)) is not None
    assert batches == [50, 1]


async def test_a_guarded_check_counts_only_while_its_guard_exists(
    redis_backend: RedisRateLimitBackend,
) -> None:
    """The guard (a session's key) must live on the counters' slot on a cluster."""
    backend, rate = redis_backend, [Rate(2, 60)]
    guard = "{k}:session"
    assert await backend.acquire("k", rate, guard=guard) is None  # no guard: nothing counted
    await backend.store.set(guard, b"alive", ttl=60)
    first = await backend.acquire("k", rate, guard=guard)
    second = await backend.acquire("k", rate)
    assert first is not None
    assert second is not None
    assert (first.allowed, first.remaining, second.allowed, second.remaining) == (True, 1, True, 0)
    await backend.store.delete(guard)
    assert await backend.acquire("k", rate, guard=guard) is None
    refused = await backend.acquire("k", rate)
    assert refused is not None
    assert not refused.allowed  # two counted in all, not three


async def test_a_check_and_its_reads_go_in_one_command(
    redis_backend: RedisRateLimitBackend,
) -> None:
    """A signed-in request's limit, session and cache entry: one script, which counts
    only while the guard exists and reads the other keys either way; sent as `EVAL`, it
    still answers once the server has lost its scripts."""
    backend, rate = redis_backend, [Rate(2, 60)]
    tag = "{k}"  # the counters' hash tag: one slot on a cluster
    guard, other, missing = f"{tag}:session", f"{tag}:entry", f"{tag}:missing"
    await backend.store.set(other, b"cached", ttl=60)
    decision, values = backend.acquire_and_read_soon("k", rate, guard=guard, reads=[guard, other])
    assert await decision is None  # no session: nothing counted
    assert await values == [None, b"cached"]  # still read
    await backend.store.set(guard, b"alive", ttl=60)
    await backend.store.client.script_flush()
    decisions = []
    for _ in range(3):
        sent, read = backend.acquire_and_read_soon(
            "k", rate, guard=guard, reads=[guard, other, missing]
        )
        assert await read == [b"alive", b"cached", None]
        decision = await sent
        assert decision is not None
        decisions.append((decision.allowed, decision.remaining))
    assert decisions == [(True, 1), (True, 0), (False, 0)]


async def test_switching_algorithm_on_a_live_redis_starts_afresh(
    redis_backend: RedisRateLimitBackend,
) -> None:
    """A deploy that changes the algorithm meets the old one's keys: they are under other
    names (and of another type), so the new counters start full and nothing fails."""
    other = "fixed-window" if redis_backend.algorithm == "gcra" else "gcra"
    before = RedisRateLimitBackend(redis_backend.store, algorithm=other)
    assert (await before.acquire("k", [Rate(1, 60)])).allowed
    assert not (await before.acquire("k", [Rate(1, 60)])).allowed
    assert (await redis_backend.acquire("k", [Rate(1, 60)])).allowed


async def test_gcra_times_are_exact(backend: RateLimitBackend) -> None:
    first = await backend.acquire("k", [Rate(1, 60)])
    assert first.reset_after == pytest.approx(60.0, abs=1e-6)  # one interval, to the µs
    refused = await backend.acquire("k", [Rate(1, 60)])
    assert 59 < refused.retry_after < 60
    assert refused.reset_after == pytest.approx(refused.retry_after, abs=1e-6)  # the slot frees


async def test_on_redis_a_fixed_window_ends_with_the_clocks_period(
    redis_backend: RedisRateLimitBackend,
) -> None:
    """1,000 a day: one window a UTC day long (Redis's clock), ending at midnight."""
    windows = RedisRateLimitBackend(redis_backend.store, algorithm="fixed-window")
    decision = await windows.acquire("k", [Rate(1000, 86400)])
    until_midnight = 86400 - time.time() % 86400
    assert decision.reset_after == pytest.approx(until_midnight, abs=2)


async def test_a_redis_error_that_is_a_bug_reaches_every_waiting_check(
    redis_backend: RedisRateLimitBackend,
) -> None:
    """Not an outage (a key of the wrong type): raised to the callers, not left hanging."""
    store = redis_backend.store
    kind = "rl" if redis_backend.algorithm == "gcra" else "rlw"
    await store.client.lpush(store.key(f"{{k}}:{kind}:1/minute"), "x")
    checks = [redis_backend.acquire("k", [Rate(1, 60)]) for _ in range(3)]
    outcomes = await asyncio.wait_for(asyncio.gather(*checks, return_exceptions=True), 5)
    assert [type(o) for o in outcomes] == [redis.ResponseError] * 3


async def test_a_cancelled_round_trip_tells_every_waiting_check() -> None:
    """A Redis that accepts and never answers; the round trip's task is cancelled (as at
    shutdown): the checks waiting on it get `StoreUnavailable`, they do not hang."""

    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = RedisStore(f"redis://127.0.0.1:{port}/0", prefix=unique_key_prefix(), timeout=30)
    await store.open()
    try:
        backend = RedisRateLimitBackend(store)
        backend._sha = "0" * 40  # skip loading the script: the call itself waits
        checks = [asyncio.ensure_future(backend.acquire("k", [Rate(1, 60)])) for _ in range(2)]
        deadline = asyncio.get_running_loop().time() + 5
        while not (sends := [t for t in asyncio.all_tasks() if "_send" in repr(t.get_coro())]):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        sends[0].cancel()
        outcomes = await asyncio.wait_for(asyncio.gather(*checks, return_exceptions=True), 5)
        assert [repr(o) for o in outcomes] == [repr(StoreUnavailable("cancelled"))] * 2
    finally:
        await store.close()
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()
