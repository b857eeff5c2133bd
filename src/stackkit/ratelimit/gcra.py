"""The generic cell rate algorithm (GCRA), one rate at a time.

Each key keeps one number, its theoretical arrival time (TAT): when the next
request would be due if requests came exactly at the steady rate. A request is
allowed while it comes no more than `count` intervals ahead of the TAT; each
allowed request moves the TAT one interval on. So `count` requests may come at
once (the burst), then one per interval; no per-request history is kept.

The Redis script in `stackkit.ratelimit.backends` does the same arithmetic in Lua.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stackkit.rates import Rate

__all__ = ["Decision", "gcra"]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    """The `count` of the tightest rate."""
    remaining: int
    """Requests that may still come at once now."""
    reset_after: float
    """Seconds until the key is back to a full burst."""
    retry_after: float
    """Seconds until a refused request would be allowed (0 when allowed)."""

    @property
    def reset_seconds(self) -> int:
        """`reset_after` in whole seconds, rounded up (`RateLimit-Reset`)."""
        return _whole_seconds(self.reset_after)

    @property
    def retry_seconds(self) -> int:
        """`retry_after` in whole seconds, rounded up (`Retry-After`)."""
        return _whole_seconds(self.retry_after)


_TOLERANCE = 1e-6
"""A microsecond: what the float error of a clock reading stays under (its last bit is
1.5e-8 s after three years of uptime), and the step of the Redis script's integers.
Times closer than this count as equal."""


def _whole_seconds(seconds: float) -> int:
    # A difference of two clock readings carries float error (20 s can come out as
    # 20.00000000003): ignore it, or 20 would be said as 21.
    return max(0, math.ceil(seconds - _TOLERANCE))


def gcra(tat: float | None, now: float, rate: Rate, cost: int = 1) -> tuple[Decision, float]:
    """Decide one request of `cost` at `now`; return the decision and the new TAT
    (the old one, unchanged, when refused)."""
    interval, count = rate.interval, rate.count
    # The durations are worked out as seconds ahead of `now`, not as clock times minus
    # `now`: a fresh key is then exactly `interval` ahead, whatever float error the
    # clock reading has.
    if tat is None or tat < now:
        tat, ahead = now, 0.0
    else:
        ahead = tat - now
    step = interval * cost
    allow_in = ahead + step - count * interval
    # Well under a step, however fast the rate.
    tolerance = _TOLERANCE if interval > 1e-3 else interval / 1000
    if allow_in > tolerance:
        return Decision(False, count, 0, ahead, allow_in), tat
    remaining = int((tolerance - allow_in) // interval)
    return Decision(True, count, remaining, ahead + step, 0.0), tat + step
