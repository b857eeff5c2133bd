"""`RateLimitMiddleware`: a limit on every endpoint, per client.

- **Which limit**: the route's own (`@api.post("/login", rate_limit="5/minute")`),
  else the app's default (`STACKKIT_RATE_LIMIT`); `rate_limit=False` exempts a
  route (the health checks are). Requests that match no controller route (static
  files, the SPA, 404s) count against the default.
- **Whose requests**: the authenticated user's, else the client address. A
  `X-Forwarded-For` header is believed only from a trusted proxy
  (`STACKKIT_TRUSTED_PROXIES`): anyone else could put any address there.
- **Counted together**: every route under the default shares one budget per
  client; a route with its own limit has a budget of its own.
- **Headers**: `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` on
  every limited response; a refused request gets a 429 problem with
  `Retry-After`.

It sits after authentication (to know the user) and before the response cache
(so that cached answers are counted too). The route is found with `RouteFinder`,
since the router has not run yet.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from stackkit.http.asgi import Network, client_address, sending_headers
from stackkit.http.problems import problem_for
from stackkit.http.read_ahead import take_read
from stackkit.http.routing import RouteFinder, principal
from stackkit.ratelimit.gcra import Decision
from stackkit.ratelimit.limiter import RateLimited, RateLimiter

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "LimitPlanner",
    "Planned",
    "RateLimitMiddleware",
    "allowed_headers",
    "client_address",
    "client_key",
]


class Planned(NamedTuple):
    """What one request counts against."""

    key: str
    """Whose budget: `user:<id>` or `ip:<address>`, with the route's when it has its own."""
    limit: str
    fail_open: bool
    """Whether it goes on when the limit cannot be checked."""


class LimitPlanner:
    """Which limit a request counts against, and under which key; None for a request
    that is not counted. See `RateLimitMiddleware` for the arguments."""

    def __init__(
        self,
        *,
        default: str,
        find_route: RouteFinder,
        trusted_proxies: Sequence[str] = (),
        unlimited_prefix: str | None = None,
    ) -> None:
        self.default = default
        self.find_route = find_route
        self.unlimited_prefix = unlimited_prefix
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def __call__(self, scope: Scope) -> Planned | None:
        spec = self.find_route(scope)
        if (
            spec is None
            and self.unlimited_prefix is not None
            and not scope["path"].startswith(self.unlimited_prefix)
        ):
            return None
        limit = self.default if spec is None or spec.rate_limit in (None, True) else spec.rate_limit
        if limit is False:
            return None
        assert isinstance(limit, str)
        if spec is not None and spec.rate_limit_by == "address":
            key = f"ip:{client_address(scope, self.trusted)}"
        else:
            key = client_key(scope, self.trusted)
        if spec is not None and isinstance(spec.rate_limit, str):
            key = f"{key}:{spec.method}:{spec.path}"  # a budget of the route's own
        return Planned(key, limit, not (spec is not None and spec.rate_limit_fail_closed))


class RateLimitMiddleware:
    """Pure ASGI.

    Args:
        limiter: checks the requests (its backend is shared by every worker when it
            is Redis).
        default: the limit of routes that set none, like `"100/minute"`.
        find_route: finds each request's route before routing (shared with the cache).
        trusted_proxies: addresses or networks whose `X-Forwarded-For` is believed.
        unlimited_prefix: requests outside any route whose path does not start with
            it are not counted: with a frontend beside the API (`"/api/"`), its
            files, cached by browsers and cheap to serve, spend nobody's budget.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        default: str,
        find_route: RouteFinder,
        trusted_proxies: Sequence[str] = (),
        unlimited_prefix: str | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.plan = LimitPlanner(
            default=default,
            find_route=find_route,
            trusted_proxies=trusted_proxies,
            unlimited_prefix=unlimited_prefix,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        planned = self.plan(scope)
        if planned is None:
            await self.app(scope, receive, send)
            return
        key, limit, fail_open = planned
        # The check ReadAheadMiddleware started with the session's read, if it was for
        # this key; it counts nothing when the session had ended (None).
        read = take_read(scope, "limit", planned)
        decision = None
        if read is not None:
            decision = await self.limiter.settle(read, limit, fail_open=fail_open)
        if decision is None:
            decision = await self.limiter.hit(key, limit, fail_open=fail_open)
        if not decision.allowed:
            await problem_for(RateLimited(decision), scope)(scope, receive, send)
            return
        await self.app(scope, receive, sending_headers(send, allowed_headers(decision)))


def allowed_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    """`rate_limit_headers(decision)` of an allowed request, as ASGI header pairs. Built
    directly: every limited response carries them, and going through the dict of
    strings took three times as long."""
    return [
        (b"ratelimit-limit", b"%d" % decision.limit),
        (b"ratelimit-remaining", b"%d" % decision.remaining),
        (b"ratelimit-reset", b"%d" % decision.reset_seconds),
    ]


def client_key(scope: Scope, trusted: Sequence[Network] = ()) -> str:
    """`user:<id>` for an authenticated user, else `ip:<address>` of the client.

    The address is the connection's, unless the connection comes from a trusted
    proxy: then the nearest address in `X-Forwarded-For` that is not a trusted proxy.
    """
    user = principal(scope)
    if user is not None:
        return user
    return f"ip:{client_address(scope, trusted)}"
