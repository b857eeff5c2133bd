"""`HitPathMiddleware`: a cached GET answered before the rest of the stack.

Through the whole stack, a cache hit passes nine layers (request id, security
headers, error handling, body limit, authentication, rate limit, cache), each
with a call, a `send` wrapper and headers copied once more: three to four times
what bare Starlette spends on a request. Yet all a hit needs is known from the
request's headers: the access token (verified in this process), its session, the
limit and the entry. This layer, first in the stack, does those steps in one
function and sends the entry with a header block prepared once per entry: the
same status, headers, body and access line as through the stack.

Whatever is not such a hit goes down the stack, which answers it as ever: a
request other than a plain GET (HEAD, `If-None-Match`, a body), a token that
fails, an ended session, a miss, a refused limit, a store that does not answer.
What was read on the way is handed down with it (`stackkit.http.read_ahead`):
nothing is read twice, nothing counted twice.

The limit is counted once the entry is found (in this process) or with the reads
(`ReadAhead`, on Redis: the session, the guarded limit and the entry in one round
trip), as the stack would count it: only for a live session, else by address.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.authentication import AuthCredentials

from stackkit.auth.api_keys import ApiKeyBackend, ApiKeyUser, InvalidApiKey
from stackkit.auth.authentication import AuthenticatedUser
from stackkit.auth.read_ahead import ReadAhead
from stackkit.auth.sessions import SessionStore
from stackkit.auth.tokens import AccessTokens, InvalidToken
from stackkit.cache.store import Store, StoreUnavailable
from stackkit.errors import ProblemError
from stackkit.http.read_ahead import Ready, put_read
from stackkit.logs import AccessLog, current_request_id
from stackkit.middleware.request_id import HEADER as REQUEST_ID
from stackkit.middleware.request_id import RequestIdGenerator, acceptable_id
from stackkit.middleware.response_cache import (
    CachedEntry,
    LookupKeys,
    current_entry,
    hit_headers,
)
from stackkit.ratelimit.gcra import Decision
from stackkit.ratelimit.limiter import RateLimiter
from stackkit.ratelimit.middleware import LimitPlanner, Planned, allowed_headers

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["HitPathMiddleware"]

Headers = list[tuple[bytes, bytes]]
_DECLINED = frozenset({b"if-none-match", b"content-length", b"transfer-encoding"})
"""Request headers the stack answers: a 304, a body to limit."""
_API_KEY_BEARER = b"bearer sk_"
_BLOCKS_KEPT = 4096
_SHAPES_KEPT = 10_000


class _Shape:
    """What a request's token, path and query decide: who asks, the entry's keys, and
    the limit it counts against when that does not depend on where it comes from."""

    __slots__ = ("credentials", "keys", "planned", "planned_once", "user")

    def __init__(self, user: AuthenticatedUser | ApiKeyUser | None) -> None:
        self.user = user
        self.credentials = (
            None if self.user is None else AuthCredentials(["authenticated", *self.user.roles])
        )
        self.keys: LookupKeys | None = None
        self.planned: Planned | None = None
        self.planned_once = False

    def seen(self, scope: Scope) -> Scope:
        """The scope as the stack's inner layers see it: authenticated, if signed in."""
        if self.user is None:
            return scope
        return {**scope, "user": self.user, "auth": self.credentials}


class HitPathMiddleware:
    """Pure ASGI; first in the stack. See the module.

    Args:
        store: the response cache's store, and `lookup_keys` the keys a GET reads
            there (None for a route that is not cached).
        cached: whether a request's route is one the response cache keeps.
        limiter: the rate limiter, and `plan` which limit a request counts against.
        security_headers: those `SecurityHeadersMiddleware` adds.
        tokens: verifies access tokens, and `sessions` holds their sessions; None
            without authentication.
        read_ahead: a signed-in request's reads in one round trip (Redis), or None to
            read in turn. Without the cache's reads among them (the cache in a store of
            its own), a signed-in request goes down the stack with them.
        api_keys: checks API keys (`Bearer sk_...`); None: the app takes none.
        anonymous: whether a request without `Authorization` is anonymous (no other
            way in than the bearer token); else the stack asks its other backends.
        access_log: write the access line (`STACKKIT_ACCESS_LOG`).
        request_ids: makes the ids of requests that bring none (the stack's own).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: Store,
        lookup_keys: Callable[[Scope], LookupKeys | None],
        cached: Callable[[Scope], bool],
        limiter: RateLimiter,
        plan: LimitPlanner,
        security_headers: Headers,
        tokens: AccessTokens | None = None,
        sessions: SessionStore | None = None,
        read_ahead: ReadAhead | None = None,
        api_keys: ApiKeyBackend | None = None,
        anonymous: bool = True,
        access_log: bool = True,
        request_ids: RequestIdGenerator | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.lookup_keys = lookup_keys
        self.cached = cached
        self.limiter = limiter
        self.plan = plan
        self.security_headers = security_headers
        self.tokens = tokens
        self.sessions = sessions
        self.read_ahead = read_ahead
        self.api_keys = api_keys
        self.anonymous = anonymous
        self.access_log = AccessLog() if access_log else None
        self.new_id = request_ids or RequestIdGenerator()
        self._blocks: dict[tuple[bytes, int], tuple[Headers, Headers]] = {}
        self._key_users: dict[str, ApiKeyUser] = {}
        """The caller each API key named when this process last checked it."""
        self._shapes: dict[tuple[str | None, str, bytes], _Shape] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not self.cached(scope):
            # Other routes pay this look-up alone (the route is found once per path).
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        authorization = incoming_id = None
        for name, value in scope["headers"]:
            if name in _DECLINED:
                await self.app(scope, receive, send)
                return
            if name == b"authorization":
                if authorization is None:
                    authorization = value
            elif name == REQUEST_ID and incoming_id is None:
                incoming_id = value
        try:
            found = await self._find(scope, authorization)
        except Exception:
            # Not a client's doing (a corrupt entry, a store's bug): the stack meets it
            # again and answers as it does, a 500 problem with the request id.
            found = None
        if found is None:
            await self.app(scope, receive, send)
            return
        await self._send(scope, send, *found, incoming_id, started)

    async def _find(
        self, scope: Scope, authorization: bytes | None
    ) -> tuple[CachedEntry, Decision | None] | None:
        if authorization is None or self.tokens is None:
            return await self._anonymous(scope) if self.anonymous else None
        if self.api_keys is not None and _is_api_key(authorization):
            return await self._with_key(scope, self.api_keys, authorization)
        if self.read_ahead is not None:
            return await self._read_ahead(scope, self.read_ahead, authorization.decode("latin-1"))
        return await self._signed_in(scope, self.tokens, authorization.decode("latin-1"))

    async def _anonymous(self, scope: Scope) -> tuple[CachedEntry, Decision | None] | None:
        shape = self._shapes.get((None, scope["path"], scope["query_string"]))
        return await self._hit(scope, shape or self._shape(scope, None, None))

    async def _with_key(
        self, scope: Scope, api_keys: ApiKeyBackend, authorization: bytes
    ) -> tuple[CachedEntry, Decision | None] | None:
        """The hit of a request signed with an API key: its record, the entry and the
        limit in one round trip when this process has seen the key before and they share
        one Redis server; else the key checked, then the entry and the limit."""
        text = authorization[7:].decode("latin-1").strip()
        known = self._key_users.get(text)
        reads = self.read_ahead
        if (
            known is not None
            and reads is not None
            and reads.one_server
            and reads.cache_store is reads.store
            and api_keys.keys.store is reads.store
        ):
            return await self._key_read_ahead(scope, api_keys, text, known)
        try:
            user = await api_keys.authenticate(scope)
        except Exception:
            return None  # authentication says why
        if user is None:
            return None
        self._remember_key(text, user)
        return await self._hit(scope, self._key_shape(scope, user))

    async def _key_read_ahead(
        self, scope: Scope, api_keys: ApiKeyBackend, text: str, known: ApiKeyUser
    ) -> tuple[CachedEntry, Decision | None] | None:
        """`_with_key` for a key seen before: its record read with the entry, and the
        limit counted in the same command (guarded by the record). The key's check is
        then made on what was read; a record that says otherwise than before (new roles,
        revoked) sends the request down the stack, with what was counted."""
        shape = self._key_shape(scope, known)
        keys = shape.keys
        if keys is None:
            return None
        planned = shape.planned if shape.planned_once else self.plan(shape.seen(scope))
        record_key = api_keys.keys.key(known.key_id)
        wanted = [record_key, keys.version, keys.entry]
        decision = None
        try:
            if planned is None:
                values = await self.store.get_many(wanted)
            else:
                sent = self.limiter.hit_and_read_soon(
                    planned.key, planned.limit, guard=record_key, reads=wanted
                )
                if sent is None:
                    return None
                check, read = sent
                values = await read
                decision = await check
                if decision is None:
                    return None  # no record kept: nothing counted; the stack reads the key
        except Exception:
            return None  # the stack meets it and answers as it does
        try:
            user = api_keys.keys.check_read(text, values[0])
        except InvalidApiKey:
            user = None
        if decision is not None:
            put_read(scope, "limit", planned, Ready(decision))  # taken if the stack agrees
        if user is None or user.id != known.id or user.roles != known.roles:
            if user is not None:
                self._remember_key(text, user)
            return None
        entry = current_entry(values[1:])
        if entry is None or (decision is not None and not decision.allowed):
            put_read(scope, "cache", keys, Ready(values[1:]))
            return None
        await api_keys.note_use(scope, user)
        return entry, decision

    def _key_shape(self, scope: Scope, user: ApiKeyUser) -> _Shape:
        # Keyed by the roles too: the same key's roles change with its owner's.
        shape_key = f"{user.identity}\x00{','.join(user.roles)}"
        shape = self._shapes.get((shape_key, scope["path"], scope["query_string"]))
        return shape or self._shape(scope, shape_key, user)

    def _remember_key(self, text: str, user: ApiKeyUser) -> None:
        known = self._key_users
        if len(known) >= _SHAPES_KEPT and text not in known:
            del known[next(iter(known))]
        known[text] = user

    async def _signed_in(
        self, scope: Scope, tokens: AccessTokens, header: str
    ) -> tuple[CachedEntry, Decision | None] | None:
        """The hit of a signed-in request, its reads made in turn."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or self.sessions is None:
            return None
        token = token.strip()
        try:
            claims = tokens.verify(token)
        except InvalidToken:
            return None  # authentication says why
        identity = (claims.session_id, claims.subject)
        try:
            alive = await self.sessions.is_alive(*identity)
        except StoreUnavailable:
            return None  # authentication decides: fail open or 503
        found = None
        if alive:
            shape = self._shapes.get((token, scope["path"], scope["query_string"]))
            if shape is None:  # a token's claims are the same each time it is verified
                shape = self._shape(scope, token, AuthenticatedUser(claims))
            found = await self._hit(scope, shape)
        if found is None:
            put_read(scope, "session", identity, Ready(alive))
        return found

    async def _hit(self, scope: Scope, shape: _Shape) -> tuple[CachedEntry, Decision | None] | None:
        """The entry and the limit's decision of a request of `shape`; None when it is no
        hit, or refused (what was read then goes down with the request)."""
        keys = shape.keys
        if keys is None:
            return None
        try:
            values = await self.store.get_many([keys.version, keys.entry])
        except StoreUnavailable:
            return None  # the cache serves it uncached, and says so
        entry = current_entry(values)
        if entry is None:
            put_read(scope, "cache", keys, Ready(values))
            return None
        planned = shape.planned if shape.planned_once else self.plan(shape.seen(scope))
        if planned is None:
            return entry, None
        try:
            decision = await self.limiter.hit(
                planned.key, planned.limit, fail_open=planned.fail_open
            )
        except ProblemError:
            return None  # fails closed: the limiter's 503
        if not decision.allowed:
            put_read(scope, "cache", keys, Ready(values))
            put_read(scope, "limit", planned, Ready(decision))
            return None
        return entry, decision

    def _shape(
        self, scope: Scope, token: str | None, user: AuthenticatedUser | ApiKeyUser | None
    ) -> _Shape:
        """What the request's token, path and query decide, kept for the next such one."""
        shape = _Shape(user)
        seen = shape.seen(scope)
        shape.keys = self.lookup_keys(seen)
        planned = self.plan(seen)
        # A signed-in user's budget is theirs wherever they ask from: the same each time.
        shape.planned_once = planned is None or (
            user is not None and planned.key.startswith("user:")
        )
        shape.planned = planned
        if len(self._shapes) >= _SHAPES_KEPT:
            del self._shapes[next(iter(self._shapes))]
        self._shapes[(token, scope["path"], scope["query_string"])] = shape
        return shape

    async def _read_ahead(
        self, scope: Scope, reads: ReadAhead, header: str
    ) -> tuple[CachedEntry, Decision | None] | None:
        """The hit of a signed-in request whose reads went in one round trip."""
        started = reads.start(scope, header)
        if started is None or started.cache is None:
            return None
        check = None
        if started.limit is not None:
            check = started.limit[1]
            if check is None:
                return None  # the limiter could not send its script ahead: the stack counts
        try:
            # Their replies came together; what fails is the stack's to handle.
            values = await started.cache[1]
            alive = await started.session
            decision = None if check is None else await check
        except Exception:
            return None
        entry = current_entry(values)
        if entry is None or not alive or (check is not None and decision is None):
            return None  # a miss, an ended session (its guarded limit counted nothing)
        if decision is not None and not decision.allowed:
            return None
        return entry, decision

    async def _send(
        self,
        scope: Scope,
        send: Send,
        entry: CachedEntry,
        decision: Decision | None,
        incoming_id: bytes | None,
        started: float,
    ) -> None:
        if incoming_id is not None and acceptable_id(incoming_id):
            request_id = incoming_id.decode("ascii")
        else:
            request_id = self.new_id()
        token = current_request_id.set(request_id)
        before, after = self._block(entry)
        limit = allowed_headers(decision) if decision is not None else []
        headers = [*before, *limit, *after, (REQUEST_ID, request_id.encode("ascii"))]
        status, size = 500, 0
        try:
            status = entry.status
            await send({"type": "http.response.start", "status": status, "headers": headers})
            size = len(entry.body)
            await send({"type": "http.response.body", "body": entry.body})
        finally:
            if self.access_log is not None:
                duration_ms = round((time.perf_counter() - started) * 1_000_000) / 1000
                self.access_log(request_id, "GET", scope["path"], status, size, duration_ms)
            current_request_id.reset(token)

    def _block(self, entry: CachedEntry) -> tuple[Headers, Headers]:
        """The headers of a hit on `entry` that come before the limit's, and the
        security headers after them: made once per entry."""
        key = (entry.head, len(entry.body))
        block = self._blocks.get(key)
        if block is None:
            present = {name.lower() for name, _ in entry.headers}
            after = [item for item in self.security_headers if item[0] not in present]
            block = (hit_headers(entry), after)
            if len(self._blocks) >= _BLOCKS_KEPT:
                del self._blocks[next(iter(self._blocks))]
            self._blocks[key] = block
        return block


def _is_api_key(authorization: bytes) -> bool:
    """Whether the header reads `Bearer sk_...` (the scheme in any case)."""
    return authorization[:10].lower() == _API_KEY_BEARER
