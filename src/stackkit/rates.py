"""Rate limits as text: `"100/minute"`, or several windows at once: `"10/second;1000/hour"`.

A leaf module: settings check a rate when they load, before any limiter exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

__all__ = ["PERIODS", "Rate", "parse_limits"]

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True)
class Rate:
    """`count` requests per `period` seconds, of which all `count` may come at once."""

    count: int
    period: float

    @cached_property
    def name(self) -> str:
        """`str(self)`, kept: it names the rate's counter on every check."""
        return str(self)

    @property
    def interval(self) -> float:
        """Seconds between two requests at the steady rate (GCRA's emission interval)."""
        return self.period / self.count

    def __str__(self) -> str:
        for name, seconds in PERIODS.items():
            if self.period == seconds:
                return f"{self.count}/{name}"
        return f"{self.count}/{self.period:g}second"


def parse_limits(text: str) -> tuple[Rate, ...]:
    """Parse `"10/second;1000/hour"` (also `"5/10minutes"`).

    Raises:
        ValueError: naming the part that is not a limit.
    """
    rates = []
    for part in text.split(";"):
        match = _RATE.match(part)
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"{part.strip()!r} is not a limit like '100/minute'")
        count, multiple, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
        rates.append(Rate(count, multiple * PERIODS[unit]))
    return tuple(rates)
