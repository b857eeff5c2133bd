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


def gcra(tat: float | None, now: float, rate: Rate, cost: int = 1) -> tuple[Decision, float]:
    """Decide one request of `cost` at `now`; return the decision and the new TAT
    (the old one, unchanged, when refused)."""
    interval = rate.interval
    tat = now if tat is None or tat < now else tat
    new_tat = tat + interval * cost
    allow_at = new_tat - rate.count * interval
    if now < allow_at - 1e-9:
        return Decision(False, rate.count, 0, tat - now, allow_at - now), tat
    remaining = math.floor((now - allow_at) / interval + 1e-9)
    return Decision(True, rate.count, remaining, new_tat - now, 0.0), new_tat
