"""`RateLimiter`, the building block: GCRA by default, `hit` and `enforce`, and what it
does when Redis does not answer."""

from __future__ import annotations

import logging
import types
from collections.abc import AsyncIterator, Callable

import pytest

from stackkit.cache import RedisStore
from stackkit.ratelimit import (
    Decision,
    MemoryRateLimitBackend,
    RateLimitBackend,
    RateLimited,
    RateLimiter,
    RateLimitUnavailable,
    RedisRateLimitBackend,
    parse_limits,
)
from stackkit.testing import find_free_port, unique_key_prefix
from tests.conftest import STORE_TIMEOUT
from tests.helpers import Clock, assert_warned_once_a_minute, opened


@pytest.fixture(params=["memory", "redis"])
async def default_backend(request: pytest.FixtureRequest) -> AsyncIterator[RateLimitBackend]:
    """A backend as built without an algorithm named."""
    if request.param == "memory":
        yield MemoryRateLimitBackend(clock=Clock())  # a clock mid-day: 1_800_000_000 s
        return
    store = RedisStore(
        request.getfixturevalue("redis_url"), prefix=unique_key_prefix(), timeout=STORE_TIMEOUT
    )
    async with opened(store):
        yield RedisRateLimitBackend(store)


async def test_gcra_is_the_default(default_backend: RateLimitBackend) -> None:
    limiter = RateLimiter(default_backend)
    first = await limiter.hit("k", "1/day")
    # GCRA: back to a full burst one interval (a day) after the request. A fixed window
    # would say "when the day's window ends", which is sooner unless it is midnight.
    assert first.reset_after == pytest.approx(86_400, abs=1)
    refused = await limiter.hit("k", "1/day")
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(86_400, abs=1)


async def test_hit_counts_the_cost_and_a_refusal_counts_nothing(
    backend: RateLimitBackend,
) -> None:
    limiter = RateLimiter(backend)
    first = await limiter.hit("k", "5/minute", cost=3)
    assert (first.allowed, first.remaining) == (True, 2)
    for _ in range(3):
        assert not (await limiter.hit("k", "5/minute", cost=3)).allowed
    last = await limiter.hit("k", "5/minute", cost=2)  # the refused ones spent nothing
    assert (last.allowed, last.remaining) == (True, 0)
    assert not (await limiter.hit("k", "5/minute")).allowed


async def test_enforce_raises_a_429_with_the_four_headers(backend: RateLimitBackend) -> None:
    limiter = RateLimiter(backend)
    assert (await limiter.enforce("login:ada", "2/minute")).allowed
    assert (await limiter.enforce("login:ada", "2/minute")).allowed
    with pytest.raises(RateLimited) as raised:
        await limiter.enforce("login:ada", "2/minute")
    assert raised.value.status == 429
    headers = raised.value.headers
    assert set(headers) == {
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "Retry-After",
    }
    assert (headers["RateLimit-Limit"], headers["RateLimit-Remaining"]) == ("2", "0")
    assert 59 <= int(headers["RateLimit-Reset"]) <= 60  # a full burst again: two intervals
    assert 29 <= int(headers["Retry-After"]) <= 30  # one slot again: one interval


@pytest.fixture
async def away() -> AsyncIterator[RedisRateLimitBackend]:
    """A Redis backend where nothing listens: every check is refused a connection."""
    # default timeout: nothing listens, so every connection is refused at once
    store = RedisStore(f"redis://127.0.0.1:{find_free_port()}/0", prefix=unique_key_prefix())
    await store.open()
    try:
        yield RedisRateLimitBackend(store)
    finally:
        await store.close()


async def test_an_outage_allows_and_warns_at_most_once_a_minute(
    away: RedisRateLimitBackend, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RateLimiter(away)

    async def checks() -> None:
        for _ in range(5):
            assert (await limiter.hit("k", "1/minute")).allowed  # fail open, the default
        with pytest.raises(RateLimitUnavailable):
            await limiter.hit("k", "1/minute", fail_open=False)

    await assert_warned_once_a_minute(monkeypatch, caplog, "Rate limits not checked", checks)


# Built inside the test, not at collection: mutation testing swaps the code in only
# while a test runs.
PROBLEMS = {
    "refused": (
        lambda: RateLimited(Decision(False, 3, 0, 59.2, 19.2)),
        429,
        "Too many requests; retry in 20 s.",
        {"RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "60",
         "Retry-After": "20"},
    ),
    "refused-for-a-moment": (  # never "retry in 0 s": at least one second
        lambda: RateLimited(Decision(False, 3, 0, 0.3, 0.3)),
        429,
        "Too many requests; retry in 1 s.",
        {"RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "1",
         "Retry-After": "1"},
    ),
    "unavailable": (
        RateLimitUnavailable,
        503,
        "The rate limit cannot be checked right now; retry shortly.",
        {"Retry-After": "5"},
    ),
}  # fmt: skip


@pytest.mark.parametrize(("make", "status", "detail", "headers"), PROBLEMS.values(), ids=PROBLEMS)
def test_the_problems_say_when_to_come_back(
    make: Callable[[], RateLimited | RateLimitUnavailable],
    status: int,
    detail: str,
    headers: dict[str, str],
) -> None:
    error = make()
    assert (error.status, error.detail, error.headers) == (status, detail, headers)


@pytest.mark.parametrize(
    "limit", ["5/second", "5/minute", "5/hour", "5/day", "100/minute", "7/90second"]
)
def test_a_rate_reads_back_as_it_was_written(limit: str) -> None:
    assert ";".join(str(rate) for rate in parse_limits(limit)) == limit


async def test_enforce_passes_on_the_key_the_rates_and_the_cost(backend: RateLimitBackend) -> None:
    limiter = RateLimiter(backend)
    rates = list(parse_limits("5/minute;100/hour"))  # rates as objects, not text
    assert (await limiter.enforce("ada", rates, cost=3)).remaining == 2
    assert (await limiter.enforce("bob", rates)).remaining == 4  # a key of its own
    with pytest.raises(RateLimited):
        await limiter.enforce("ada", rates, cost=3)


async def test_enforce_fails_closed_when_asked(away: RedisRateLimitBackend) -> None:
    limiter = RateLimiter(away)
    assert (await limiter.enforce("k", "1/minute")).allowed
    with pytest.raises(RateLimitUnavailable):
        await limiter.enforce("k", "1/minute", fail_open=False)


async def test_failing_open_shows_the_tightest_rate_whole_and_says_why(
    away: RedisRateLimitBackend, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    monkeypatch.setattr("stackkit.logs.time", types.SimpleNamespace(monotonic=lambda: now[0]))
    limiter = RateLimiter(away, warn_interval=5)
    with caplog.at_level(logging.WARNING, logger="stackkit.ratelimit"):
        decision = await limiter.hit("k", "10/second;5/minute")
        now[0] += 5  # the interval asked for, not a minute
        await limiter.hit("k", "10/second;5/minute")
    assert decision == Decision(True, 5, 5, 0.0, 0.0)
    said = "Rate limits not checked, the backend does not answer: Redis did not answer"
    assert [r.getMessage()[: len(said)] for r in caplog.records] == [said, said]
