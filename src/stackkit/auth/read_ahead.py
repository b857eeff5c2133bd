"""`ReadAheadMiddleware`: on Redis, a signed-in request's session check, rate-limit
step and cache lookup in one round trip.

Without it, they run as the middleware reach them: authentication reads the
session, then the rate limiter runs its script, then the response cache reads
its entry: three round trips in a row. Every key they need is known once the
access token is verified, which happens in this process (its signature, or the
table of tokens verified before). So this middleware, just before
authentication, verifies the token and starts the three reads in one turn of the
event loop, where the store sends them as one pipeline (`TurnPipeline`, `RedisStore.soon`:
sent now, their replies awaited later, no task made). Each
middleware then takes its read from the scope (`stackkit.http.read_ahead`) if it
was started for what it would ask itself, and otherwise asks as before: a token
that fails, a session that has ended or a route of its own changes nothing.

The rate-limit step is guarded by the session's key, in the same script: when the
session has ended, nothing is counted against its user (the request is counted by
its address, like any anonymous one).

`create_app` puts it in the stack when the sessions and the limits live in one
Redis server (the default with `REDIS_URL`); not on a cluster, where the session,
the counters and the entry live in slots of their own.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import partial
from typing import TYPE_CHECKING, Protocol

from starlette.authentication import AuthCredentials

from stackkit.auth.authentication import AuthenticatedUser, authorization
from stackkit.auth.sessions import SessionStore
from stackkit.auth.tokens import AccessTokens, InvalidToken
from stackkit.cache.redis_store import RedisStore
from stackkit.http.read_ahead import put_read
from stackkit.ratelimit.limiter import RateLimiter
from stackkit.ratelimit.middleware import LimitPlanner

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ReadAheadMiddleware"]


class LookupKeys(Hashable, Protocol):
    """The keys a cached GET reads (`stackkit.middleware.response_cache.LookupKeys`)."""

    @property
    def version(self) -> str: ...

    @property
    def entry(self) -> str: ...


class ReadAheadMiddleware:
    """Pure ASGI.

    Args:
        tokens: verifies access tokens (the same as authentication's).
        sessions: where sessions live; its store must be the limiter's.
        limiter: the rate limiter, and `plan` which limit a request counts against.
        cache: the response cache's store, and what gives the keys a request's lookup
            reads (`stackkit.middleware.response_cache.lookup_keys`); None when
            responses are not cached.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: AccessTokens,
        sessions: SessionStore,
        limiter: RateLimiter,
        plan: LimitPlanner,
        cache: tuple[RedisStore, Callable[[Scope], LookupKeys | None]] | None = None,
    ) -> None:
        if not isinstance(sessions.store, RedisStore):
            raise TypeError("reading ahead needs the sessions in Redis")
        self.app = app
        self.tokens = tokens
        self.sessions = sessions
        self.store: RedisStore = sessions.store
        self.limiter = limiter
        self.plan = plan
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self._start(scope)
        await self.app(scope, receive, send)

    def _start(self, scope: Scope) -> None:
        """Send the request's reads now, in this turn's pipeline; no task is made: the
        middleware that take them await their replies."""
        header = authorization(scope)
        if header is None:
            return
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return
        try:
            claims = self.tokens.verify(token.strip())
        except InvalidToken:
            return  # authentication says why
        session_id, user_id = identity = (claims.session_id, claims.subject)
        session = self.store.get_soon(SessionStore.key(session_id))
        put_read(
            scope, "session", identity, session.then(partial(self.sessions.owned, user_id=user_id))
        )
        # The scope as it will be once authentication has accepted the token.
        user = AuthenticatedUser(claims)
        signed_in = {**scope, "user": user, "auth": AuthCredentials(["authenticated", *user.roles])}
        planned = self.plan(signed_in)
        if planned is not None:
            check = self.limiter.hit_soon(
                planned.key, planned.limit, guard=SessionStore.key(session_id)
            )
            if check is not None:
                put_read(scope, "limit", planned, check)
        if self.cache is not None and scope["method"] in ("GET", "HEAD"):
            store, lookup_keys = self.cache
            keys = lookup_keys(signed_in)
            if keys is not None:
                put_read(scope, "cache", keys, store.get_many_soon([keys.version, keys.entry]))
