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
Redis store (the default with `REDIS_URL`). On a cluster, a signed-in user's
session and counters share the user's hash tag (`{user:<id>}`), so the guarded
limit and the session read are still one script, on the user's node; the cache
entry lives in its resource's slot, and is read beside it in the same turn's
pipeline, which the cluster client sends to both nodes at once: one round trip per
node. A request whose keys do not share the user's slot (a session made before
sessions were tagged, a route's own limit) reads the session and the entry ahead
and leaves the limit to the rate limiter. A cached GET's reads are started earlier
still, by `stackkit.middleware.hit_path.HitPathMiddleware`, which answers a hit
itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Hashable
from functools import partial
from typing import TYPE_CHECKING, NamedTuple, Protocol

from starlette.authentication import AuthCredentials

from stackkit.auth.authentication import AuthenticatedUser, authorization
from stackkit.auth.sessions import SessionStore
from stackkit.auth.tokens import AccessTokens, InvalidToken
from stackkit.cache.redis_store import RedisClusterStore, RedisStore
from stackkit.http.read_ahead import READ_AHEAD_SCOPE_KEY, put_read
from stackkit.ratelimit.gcra import Decision
from stackkit.ratelimit.limiter import RateLimiter
from stackkit.ratelimit.middleware import LimitPlanner, Planned

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["LookupKeys", "ReadAhead", "ReadAheadMiddleware", "Started"]


class LookupKeys(Hashable, Protocol):
    """The keys a cached GET reads (`stackkit.middleware.response_cache.LookupKeys`)."""

    @property
    def version(self) -> str: ...

    @property
    def entry(self) -> str: ...


class Started(NamedTuple):
    """The reads `ReadAhead.start` sent for one request."""

    signed_in: Scope
    """A copy of the scope as authentication will make it once it accepts the token."""
    session: Awaitable[bool]
    """Whether the token's session is alive and its user's."""
    limit: tuple[Planned, Awaitable[Decision | None] | None] | None
    """The limit the request counts against and its decision (counted, guarded by the
    session), None if the backend cannot send it now; None if it is not counted."""
    cache: tuple[LookupKeys, Awaitable[list[bytes | None]]] | None
    """The cached entry's keys and their values (version, entry), for a cached GET."""


class ReadAhead:
    """Starts a signed-in request's reads in one round trip. See the module.

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
        *,
        tokens: AccessTokens,
        sessions: SessionStore,
        limiter: RateLimiter,
        plan: LimitPlanner,
        cache: tuple[RedisStore, Callable[[Scope], LookupKeys | None]] | None = None,
    ) -> None:
        if not isinstance(sessions.store, RedisStore):
            raise TypeError("reading ahead needs the sessions in Redis")
        self.tokens = tokens
        self.sessions = sessions
        self.store: RedisStore = sessions.store
        self.limiter = limiter
        self.plan = plan
        self.one_server = not isinstance(self.store, RedisClusterStore)
        self.cache_store: RedisStore | None = None
        self.lookup_keys: Callable[[Scope], LookupKeys | None] | None = None
        if cache is not None:
            self.cache_store, self.lookup_keys = cache

    def start(self, scope: Scope, header: str | None) -> Started | None:
        """Send the reads of a request whose `Authorization` header is `header`, in this
        turn's pipeline, and hand them to the middleware that take them (`put_read`); no
        task is made: whoever takes a read awaits its reply. None for a request with no
        valid bearer token."""
        # Tried once: whatever comes of it, the layers after do not try again.
        scope.setdefault(READ_AHEAD_SCOPE_KEY, {})
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            claims = self.tokens.verify(token.strip())
        except InvalidToken:
            return None  # authentication says why
        session_id, user_id = identity = (claims.session_id, claims.subject)
        session_key = SessionStore.key(session_id)
        user = AuthenticatedUser(claims)
        signed_in = {**scope, "user": user, "auth": AuthCredentials(["authenticated", *user.roles])}
        planned = self.plan(signed_in)
        keys = None
        if self.lookup_keys is not None and scope["method"] in ("GET", "HEAD"):
            keys = self.lookup_keys(signed_in)
        owned = partial(self.sessions.owned, user_id=user_id)
        # The entry goes in the script's reads when it lives in the same store (its prefix)
        # on one server; on a cluster it lives in its resource's slot, not the user's.
        entry_with_script = keys is not None and self.cache_store is self.store and self.one_server
        alive: Awaitable[bool] | None = None
        limit: tuple[Planned, Awaitable[Decision | None] | None] | None = None
        cache: tuple[LookupKeys, Awaitable[list[bytes | None]]] | None = None
        if planned is not None:
            # One command: the limit counted (if the session is there) and the reads.
            reads = [session_key]
            if keys is not None and entry_with_script:
                reads += [keys.version, keys.entry]
            sent = self.limiter.hit_and_read_soon(
                planned.key, planned.limit, guard=session_key, reads=reads
            )
            check = None
            if sent is not None:
                check, read = sent
                put_read(scope, "limit", planned, check)
                alive = read.then(lambda values: owned(values[0]))
                if keys is not None and entry_with_script:
                    cache = (keys, read.then(lambda values: values[1:]))
            limit = (planned, check)
        if alive is None:
            alive = self.store.get_soon(session_key).then(owned)
        if keys is not None and cache is None and self.cache_store is not None:
            cache = (keys, self.cache_store.get_many_soon([keys.version, keys.entry]))
        if cache is not None:
            put_read(scope, "cache", *cache)
        put_read(scope, "session", identity, alive)
        return Started(signed_in, alive, limit, cache)


class ReadAheadMiddleware:
    """Pure ASGI: `ReadAhead` for every HTTP request whose reads no layer before it has
    started (`stackkit.middleware.hit_path.HitPathMiddleware` starts those of cached GETs)."""

    def __init__(self, app: ASGIApp, *, reads: ReadAhead) -> None:
        self.app = app
        self.reads = reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and READ_AHEAD_SCOPE_KEY not in scope:
            self.reads.start(scope, authorization(scope))
        await self.app(scope, receive, send)
