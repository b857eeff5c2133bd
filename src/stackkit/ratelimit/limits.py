"""Moved to `stackkit.rates` (settings read rates too); this name keeps working."""

from stackkit.rates import PERIODS, Rate, parse_limits

__all__ = ["PERIODS", "Rate", "parse_limits"]
