"""`RateLimiter`: the building block, for middleware and for services alike.

limiter = RateLimiter(RedisRateLimitBackend(store))
decision = await limiter.hit(f"login:{email}", "5/minute")
await limiter.enforce(f"login:{email}", "5/minute", fail_open=False)   # raises 429 / 503
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from functools import lru_cache
from typing import overload

from stackkit.cache.redis_batch import Reply
from stackkit.cache.store import StoreUnavailable
from stackkit.errors import ProblemError
from stackkit.logs import ThrottledWarning
from stackkit.ratelimit.backends import RateLimitBackend
from stackkit.ratelimit.gcra import Decision
from stackkit.rates import Rate, parse_limits

__all__ = ["RateLimitUnavailable", "RateLimited", "RateLimiter", "rate_limit_headers"]

logger = logging.getLogger("stackkit.ratelimit")


class RateLimited(ProblemError):
    """429: too many requests; `Retry-After` says when to come back."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(
            429,
            f"Too many requests; retry in {decision.retry_seconds} s.",
            headers=rate_limit_headers(decision),
        )


class RateLimitUnavailable(ProblemError):
    """503: the limit could not be checked and the route fails closed."""

    def __init__(self) -> None:
        super().__init__(
            503, "The rate limit cannot be checked right now; retry shortly.",
            headers={"Retry-After": "5"},
        )  # fmt: skip


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds, rounded
    up), and `Retry-After` when refused."""
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset_seconds),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, decision.retry_seconds))
    return headers


@lru_cache(maxsize=256)
def _rates(limit: str) -> tuple[Rate, ...]:
    return parse_limits(limit)


class RateLimiter:
    """Checks requests against limits.

    Args:
        backend: where the counters live.
        fail_open: when the backend does not answer, allow (True, the default: an
            outage of Redis must not take the API down) or refuse with 503.
        warn_interval: seconds between two warnings about an unreachable backend.
    """

    def __init__(
        self, backend: RateLimitBackend, *, fail_open: bool = True, warn_interval: float = 60
    ) -> None:
        self.backend = backend
        self.fail_open = fail_open
        self._warn = ThrottledWarning(
            logger, "Rate limits not checked, the backend does not answer: %s",
            interval=warn_interval,
        )  # fmt: skip

    @overload
    async def hit(
        self,
        key: str,
        limit: str | Sequence[Rate],
        *,
        cost: int = 1,
        fail_open: bool | None = None,
        guard: None = None,
    ) -> Decision: ...

    @overload
    async def hit(
        self,
        key: str,
        limit: str | Sequence[Rate],
        *,
        cost: int = 1,
        fail_open: bool | None = None,
        guard: str,
    ) -> Decision | None: ...

    async def hit(
        self,
        key: str,
        limit: str | Sequence[Rate],
        *,
        cost: int = 1,
        fail_open: bool | None = None,
        guard: str | None = None,
    ) -> Decision | None:
        """Count one request of `cost` for `key`; the decision says whether it may go on.

        `guard`: a key that must exist in the backend's store for the request to count
        (see `RateLimitBackend.acquire`); None when it does not.

        Raises:
            RateLimitUnavailable: the backend did not answer and this check fails closed.
        """
        rates = _rates(limit) if isinstance(limit, str) else tuple(limit)
        try:
            return await self.backend.acquire(key, rates, cost, guard=guard)
        except StoreUnavailable as error:
            return self._unchecked(error, rates, fail_open)

    def hit_and_read_soon(
        self, key: str, limit: str, *, guard: str, reads: Sequence[str]
    ) -> tuple[Reply[Decision | None], Reply[list[bytes | None]]] | None:
        """`hit` with its `guard`, sent now with the store's pipeline of this turn of the
        event loop, and the values of `reads` (keys of the backend's store) read in the
        same command, apart from its decision (which `settle` settles); None when the
        backend cannot (it is not Redis, or the keys are in several slots of a cluster)."""
        send = getattr(self.backend, "acquire_and_read_soon", None)
        return None if send is None else send(key, _rates(limit), guard=guard, reads=reads)

    async def settle(
        self, sent: Awaitable[Decision | None], limit: str, *, fail_open: bool | None = None
    ) -> Decision | None:
        """The decision of a check sent by `hit_and_read_soon`, with `hit`'s handling of a
        backend that did not answer; None when it counted nothing (its guard was gone):
        then `hit` decides.

        Raises:
            RateLimitUnavailable: the backend did not answer and this check fails closed.
        """
        try:
            return await sent
        except StoreUnavailable as error:
            return self._unchecked(error, _rates(limit), fail_open)

    def _unchecked(
        self, error: StoreUnavailable, rates: Sequence[Rate], fail_open: bool | None
    ) -> Decision:
        """What an unanswered check decides: allowed (and a warning), or 503."""
        if not (self.fail_open if fail_open is None else fail_open):
            raise RateLimitUnavailable() from error
        self._warn(error)
        tightest = min(rates, key=lambda r: r.count)
        return Decision(True, tightest.count, tightest.count, 0.0, 0.0)

    async def enforce(
        self, key: str, limit: str | Sequence[Rate], *, cost: int = 1, fail_open: bool | None = None
    ) -> Decision:
        """`hit`, raising `RateLimited` (429) when the request is refused."""
        decision = await self.hit(key, limit, cost=cost, fail_open=fail_open)
        if not decision.allowed:
            raise RateLimited(decision)
        return decision
