"""GCRA against hand-computed cases: 5/minute is one request every 12 s, burst of 5."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from stackkit.ratelimit import Decision, Rate, gcra, parse_limits
from stackkit.ratelimit.backends import combine

FIVE_PER_MINUTE = Rate(5, 60)


def test_a_fresh_key_allows_a_full_burst_then_refuses() -> None:
    tat = None
    remaining = []
    for _ in range(5):
        decision, tat = gcra(tat, 0.0, FIVE_PER_MINUTE)
        assert decision.allowed
        remaining.append(decision.remaining)
    assert remaining == [4, 3, 2, 1, 0]
    assert tat == 60.0  # five intervals of 12 s
    refused, after = gcra(tat, 0.0, FIVE_PER_MINUTE)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(12.0)  # one interval until a slot frees
    assert refused.reset_after == pytest.approx(60.0)  # a full burst again in 60 s
    assert after == tat  # a refused request does not move the key


def test_the_decisions_in_full() -> None:
    allowed, tat = gcra(None, 100.0, Rate(3, 60))
    assert allowed == Decision(True, 3, 2, 20.0, 0.0)
    _, tat = gcra(tat, 100.0, Rate(3, 60), cost=2)
    refused, _ = gcra(tat, 100.0, Rate(3, 60))
    assert refused == Decision(False, 3, 0, 60.0, 20.0)


# Several rates: allowed only if all allow; the limit named is the refusing rate that frees
# up last, or, when all allow, the one with the fewest left (on a tie, the slowest to reset).
COMBINED = {
    "one-refuses": (
        [Decision(True, 100, 50, 30.0, 0.0), Decision(False, 5, 0, 12.0, 12.0)],
        Decision(False, 5, 0, 30.0, 12.0),
    ),
    "the-last-to-free-up": (
        [Decision(False, 10, 0, 100.0, 100.0), Decision(False, 100, 0, 5.0, 5.0)],
        Decision(False, 10, 0, 100.0, 100.0),
    ),
    "the-fewest-left": (
        [Decision(True, 5, 4, 10.0, 0.0), Decision(True, 50, 2, 3600.0, 0.0)],
        Decision(True, 50, 2, 3600.0, 0.0),
    ),
    "a-tie-the-slowest": (
        [Decision(True, 5, 2, 10.0, 0.0), Decision(True, 50, 2, 3600.0, 0.0)],
        Decision(True, 50, 2, 3600.0, 0.0),
    ),
}


@pytest.mark.parametrize(("decisions", "combined"), COMBINED.values(), ids=COMBINED)
def test_several_rates_combine(decisions: list[Decision], combined: Decision) -> None:
    assert combine(decisions) == combined
    assert combine(decisions[::-1]) == combined


def test_requests_at_the_steady_rate_are_always_allowed() -> None:
    tat = None
    for step in range(20):
        decision, tat = gcra(tat, step * 12.0, FIVE_PER_MINUTE)
        assert decision.allowed
        assert decision.remaining == 4


def test_after_a_burst_one_request_per_interval() -> None:
    tat = 60.0  # burst spent at t=0
    early, _ = gcra(tat, 11.9, FIVE_PER_MINUTE)
    assert not early.allowed
    assert early.retry_after == pytest.approx(0.1)
    on_time, tat = gcra(tat, 12.0, FIVE_PER_MINUTE)
    assert on_time.allowed
    assert on_time.remaining == 0
    assert tat == pytest.approx(72.0)


def test_an_idle_key_recovers_its_burst() -> None:
    decision, _ = gcra(60.0, 120.0, FIVE_PER_MINUTE)
    assert decision.allowed
    assert decision.remaining == 4
    assert decision.reset_after == pytest.approx(12.0)


def test_cost_counts_several_requests() -> None:
    decision, tat = gcra(None, 0.0, FIVE_PER_MINUTE, cost=3)
    assert (decision.allowed, decision.remaining, tat) == (True, 2, 36.0)
    too_much, _ = gcra(tat, 0.0, FIVE_PER_MINUTE, cost=3)
    assert not too_much.allowed
    assert too_much.retry_after == pytest.approx(12.0)


@pytest.mark.parametrize(
    ("text", "rates"),
    [
        ("100/minute", (Rate(100, 60),)),
        ("10/second;1000/hour", (Rate(10, 1), Rate(1000, 3600))),
        (" 5 / 10 minutes ", (Rate(5, 600),)),
        ("1/day", (Rate(1, 86_400),)),
    ],
)
def test_parse_limits(text: str, rates: tuple[Rate, ...]) -> None:
    assert parse_limits(text) == rates


@pytest.mark.parametrize("text", ["", "100", "0/minute", "ten/minute", "5/week", "5/minute;"])
def test_bad_limits_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a limit"):
        parse_limits(text)


def test_a_period_boundary_lets_no_second_burst_through() -> None:
    """Where a fixed window lets 3/minute become 6 in two seconds, GCRA lets 3 through."""
    tat = None
    outcomes = []
    for now in (179.0, 179.0, 179.0, 180.5, 180.5, 180.5):
        decision, tat = gcra(tat, now, Rate(3, 60))
        outcomes.append(decision.allowed)
    assert outcomes == [True, True, True, False, False, False]


@settings(max_examples=300, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=10),
    period=st.sampled_from([1, 60, 3600]),
    gaps=st.lists(st.floats(min_value=0, max_value=2.5), min_size=1, max_size=60),
)
# One interval apart exactly: allowed, though the span, `now` minus `now`, may come out
# a rounding error short of the interval.
@example(count=1, period=3600, gaps=[1.242340726572113, 1.0])
def test_never_more_than_a_burst_plus_the_steady_rate_in_any_span(
    count: int, period: int, gaps: list[float]
) -> None:
    """Whatever the arrivals, the requests allowed within any span of `d` seconds number
    at most `count + d / interval`: a burst, then the steady rate; never two bursts."""
    rate = Rate(count, period)
    tat, now, allowed = None, 1000.0, []
    for gap in gaps:  # in intervals since the request before
        now += gap * rate.interval
        decision, tat = gcra(tat, now, rate)
        if decision.allowed:
            allowed.append(now)
    for first in range(len(allowed)):
        for last in range(first, len(allowed)):
            span = allowed[last] - allowed[first]
            assert last - first + 1 <= count + span / rate.interval + 1e-6
            if span < rate.interval - 1e-6:
                assert last - first + 1 <= count


@settings(max_examples=300, deadline=None)
@given(
    now=st.floats(min_value=0, max_value=1e8, allow_nan=False),  # a monotonic clock: uptime
    count=st.integers(min_value=1, max_value=10),
    period=st.sampled_from([1, 60, 3600, 86_400]),
)
@example(now=262136.4223085183, count=3, period=60)  # 20 s came out as 20.00000000003
@example(now=67_108_864.0, count=3, period=1)  # 1/3 s steps, the last bit 1.5e-8 s
def test_the_seconds_told_are_the_exact_ones_rounded_up(
    now: float, count: int, period: int
) -> None:
    """A burst taken at one instant: the k-th request's reset is k intervals, told in
    whole seconds rounded up from the exact figure, whatever the clock reads (a
    difference of clock readings carries float error)."""
    rate, tat = Rate(count, period), None
    for k in range(1, count + 1):
        decision, tat = gcra(tat, now, rate)
        assert decision.allowed
        assert decision.reset_seconds == math.ceil(Fraction(period, count) * k)
    refused, _ = gcra(tat, now, rate)
    assert refused.retry_seconds == math.ceil(Fraction(period, count))
    assert refused.reset_seconds == period
