"""The fixed-window algorithm: by hand, and exact on every backend."""

from __future__ import annotations

import asyncio

import pytest

from stackkit.ratelimit import (
    Decision,
    Rate,
    RateLimitBackend,
    fixed_window,
    parse_limits,
)

THREE_PER_MINUTE = Rate(3, 60)


def test_a_window_allows_its_count_then_refuses_until_it_ends() -> None:
    state = None
    for used in range(1, 4):
        decision, state = fixed_window(state, 125.0, THREE_PER_MINUTE)
        assert decision.allowed
        assert decision.remaining == 3 - used
        assert decision.reset_after == pytest.approx(55.0)  # the window is [120, 180)
    refused, after = fixed_window(state, 150.0, THREE_PER_MINUTE)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(30.0)
    assert after == state
    fresh, _ = fixed_window(state, 180.0, THREE_PER_MINUTE)  # the next window
    assert fresh.allowed
    assert fresh.remaining == 2


def test_the_decisions_in_full() -> None:
    allowed, state = fixed_window(None, 125.0, THREE_PER_MINUTE, cost=3)
    assert allowed == Decision(True, 3, 0, 55.0, 0.0)
    refused, _ = fixed_window(state, 150.0, THREE_PER_MINUTE)
    assert refused == Decision(False, 3, 0, 30.0, 30.0)


def test_a_boundary_lets_two_windows_through_back_to_back() -> None:
    """Why GCRA is the default: 3/minute can become 6 in two seconds."""
    state = None
    for _ in range(3):
        decision, state = fixed_window(state, 179.0, THREE_PER_MINUTE)
        assert decision.allowed
    for _ in range(3):
        decision, state = fixed_window(state, 180.5, THREE_PER_MINUTE)
        assert decision.allowed


async def test_200_concurrent_requests_against_50_let_exactly_50_through(
    window_backend: RateLimitBackend,
) -> None:
    rates = parse_limits("50/day")  # a window that will not end during the test
    decisions = await asyncio.gather(*(window_backend.acquire("client", rates) for _ in range(200)))
    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == 50
    assert sorted(d.remaining for d in allowed) == list(range(50))
    assert all(d.retry_after > 0 for d in decisions if not d.allowed)


async def test_every_window_must_allow(window_backend: RateLimitBackend) -> None:
    rates = parse_limits("2/day;100/day")
    outcomes = [(await window_backend.acquire("k", rates)).allowed for _ in range(4)]
    assert outcomes == [True, True, False, False]
    hundred = await window_backend.acquire("k", parse_limits("100/day"))
    assert hundred.remaining == 97  # two counted in the 100/day window, not four
