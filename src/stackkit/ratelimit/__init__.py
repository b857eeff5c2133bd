"""Rate limiting: GCRA on memory or Redis, as a building block (`RateLimiter`)."""

from __future__ import annotations

from stackkit.lazy import lazy_attributes
from stackkit.ratelimit.backends import (
    MemoryRateLimitBackend,
    RateLimitBackend,
    RedisRateLimitBackend,
)
from stackkit.ratelimit.fixed_window import fixed_window
from stackkit.ratelimit.gcra import Decision, gcra
from stackkit.ratelimit.limiter import (
    RateLimited,
    RateLimiter,
    RateLimitUnavailable,
    rate_limit_headers,
)
from stackkit.ratelimit.middleware import RateLimitMiddleware
from stackkit.rates import Rate, parse_limits

__all__ = [
    "Decision",
    "MemoryRateLimitBackend",
    "Rate",
    "RateLimitBackend",
    "RateLimitMiddleware",
    "RateLimitUnavailable",
    "RateLimited",
    "RateLimiter",
    "RedisRateLimitBackend",
    "fixed_window",
    "gcra",
    "parse_limits",
    "rate_limit_headers",
]


__getattr__ = lazy_attributes(__name__)  # a submodule, imported on first use
