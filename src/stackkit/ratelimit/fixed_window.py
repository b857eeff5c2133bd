"""Fixed window: at most `count` requests in each period, the counter starting afresh
at every period boundary. Simpler to explain than GCRA, but it lets up to twice
`count` through around a boundary; GCRA is the default for that reason.

The Redis script in `stackkit.ratelimit.backends` does the same arithmetic in Lua.
"""

from __future__ import annotations

import math

from stackkit.ratelimit.gcra import Decision
from stackkit.rates import Rate

__all__ = ["fixed_window"]

Window = tuple[float, int]
"""When the current window started, and how much of it is used."""


def fixed_window(
    state: Window | None, now: float, rate: Rate, cost: int = 1
) -> tuple[Decision, Window | None]:
    """Decide one request of `cost` at `now`; return the decision and the new state
    (the old one, unchanged, when refused)."""
    start = math.floor(now / rate.period) * rate.period
    used = state[1] if state is not None and state[0] == start else 0
    ends_in = start + rate.period - now
    if used + cost > rate.count:
        return Decision(False, rate.count, rate.count - used, ends_in, ends_in), state
    used += cost
    return Decision(True, rate.count, rate.count - used, ends_in, 0.0), (start, used)
