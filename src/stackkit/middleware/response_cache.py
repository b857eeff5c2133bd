"""`ResponseCacheMiddleware`: GET responses served from a store, per user, invalidated by writes.

- **Key**: the path, the query with its parameters sorted, and who asks: the
  authenticated user and their session (a random id, never reused), else
  "anonymous". One user's response is never served to another, nor to a later
  account that is given the same user id; once a user's sessions end (sign-out,
  deletion, disabling, new roles), nothing cached for them is reachable.
- **What is cached**: 2xx GET responses of controller routes, for the route's
  `cache_ttl` (the app's default, 300 s, when None; 0 opts out), unless the
  response sets a cookie or says `Cache-Control: no-store` or `private`. HEAD is
  answered from a cached GET. Requests to other routes pass straight through,
  without a lookup.
- **Invalidation**: a successful POST, PUT, PATCH or DELETE bumps the version of
  its namespace (the first two path segments, `/api/notes`), before the answer is
  sent; entries made under an older version are misses from then on, in every
  process. `invalidate()` bumps namespaces from elsewhere: `create_app` calls it
  for every table a committed unit of work changed (`Database.on_change`), so
  that cascades and hand-written services invalidate too.
- **Single flight**: concurrent misses on one key run the handler once; the
  others wait (up to `wait` seconds) for its entry. A lock in the store makes
  this hold across processes when the store is Redis.
- **Fail open**: when the store does not answer, requests are served uncached,
  and a warning is logged at most once per `warn_interval`.

Responses carry RFC 9211 `Cache-Status` and an `ETag`; a matching
`If-None-Match` gets 304.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from stackkit.cache.store import Locks, Store, StoreUnavailable
from stackkit.http.asgi import before_success, sending_headers, with_headers
from stackkit.http.conditional import none_match, parse_entity_tag
from stackkit.http.read_ahead import take_read
from stackkit.http.routing import ROUTE_SCOPE_KEY, RouteFinder, RouteSpec, principal
from stackkit.logs import ThrottledWarning

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CachedEntry",
    "LookupKeys",
    "ResponseCacheMiddleware",
    "before_success",
    "cache_identity",
    "cached_route",
    "current_entry",
    "hit_headers",
    "invalidate",
    "lookup_keys",
    "namespace_of",
    "version_key",
]

logger = logging.getLogger("stackkit.cache")

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Headers that belong to one response, not to the cached representation.
_NOT_STORED = frozenset({b"x-request-id", b"date", b"set-cookie", b"content-length"})
CACHE_STATUS = b"cache-status"
_HIT = (CACHE_STATUS, b"stackkit; hit")


class ResponseCacheMiddleware:
    """Pure ASGI; sits innermost of stackkit's middleware, after authentication.

    Args:
        store: where entries live (a `MemoryStore`, or Redis for several workers).
        find_route: finds each request's route before routing (shared with the rate
            limiter); only controller routes whose `cache_ttl` is not 0 are cached,
            and requests to others never touch the store.
        default_ttl: seconds for routes that do not set `cache_ttl`.
        max_body: larger responses are passed through, not stored.
        wait: seconds a concurrent miss waits for the first one's entry.
        lock_ttl: seconds the single-flight lock lasts if its holder dies.
        warn_interval: seconds between two warnings about an unreachable store.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: Store,
        find_route: RouteFinder,
        default_ttl: float = 300,
        max_body: int = 1_048_576,
        wait: float = 5.0,
        lock_ttl: float = 10.0,
        warn_interval: float = 60.0,
    ) -> None:
        self.app = app
        self.store = store
        self.find_route = find_route
        self.default_ttl = default_ttl
        self.max_body = max_body
        self.wait = wait
        self.lock_ttl = lock_ttl
        self.single_flight = isinstance(store, Locks)
        """Whether concurrent misses wait for one handler: when the store has locks."""
        self._warn = ThrottledWarning(
            logger, "Response cache bypassed, its store does not answer: %s",
            interval=warn_interval,
        )  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["method"] in ("GET", "HEAD"):
            await self._read(scope, receive, send)
        elif scope["method"] in _WRITES:
            await self._write(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # Reads

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> None:
        keys = lookup_keys(scope, self.find_route)
        if keys is None:
            # Opted out, or not a controller route (static files, the SPA, a 404):
            # no lookup, no lock, no round trip.
            await self.app(scope, receive, send)
            return
        namespace_version, entry_key = keys.version, keys.entry
        try:
            # The lookup ReadAheadMiddleware started with the session's read, if any.
            read = take_read(scope, "cache", keys)
            version, entry = await self._lookup(namespace_version, entry_key, read)
            if entry is not None:
                await self._send_entry(entry, scope, send)
                return
            if scope["method"] == "HEAD":
                await self.app(scope, receive, _with_status(send, b"stackkit; fwd=miss"))
                return
            lock_key, token = keys.lock, secrets.token_bytes(16)
            deadline = time.monotonic() + self.wait
            delay = 0.005
            waited = False
            while self.single_flight and not await self.store.set_if_absent(
                lock_key, token, ttl=self.lock_ttl
            ):
                waited = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)
                version, entry = await self._lookup(namespace_version, entry_key)
                if entry is not None:
                    await self._send_entry(entry, scope, send)
                    return
                if time.monotonic() > deadline:
                    await self.app(scope, receive, _with_status(send, b"stackkit; fwd=miss"))
                    return
            if waited:
                # The holder may have stored its entry and let go between our last look
                # and our taking the lock: look once more before running the handler.
                version, entry = await self._lookup(namespace_version, entry_key)
                if entry is not None:
                    await self.store.delete_if_equals(lock_key, token)
                    await self._send_entry(entry, scope, send)
                    return
        except StoreUnavailable as error:
            self._warn(error)
            await self.app(scope, receive, _with_status(send, b"stackkit; fwd=bypass"))
            return
        try:
            await self._fill(scope, receive, send, version, entry_key)
        finally:
            try:
                if self.single_flight:
                    await self.store.delete_if_equals(lock_key, token)
            except StoreUnavailable as error:
                self._warn(error)

    async def _lookup(
        self, version_key: str, entry_key: str, read: Awaitable[list[bytes | None]] | None = None
    ) -> tuple[int, CachedEntry | None]:
        """The namespace's current version, and the entry if it was made under it (`read`:
        their values, read already)."""
        values = await (read or self.store.get_many([version_key, entry_key]))
        return _version(values[0]), current_entry(values)

    async def _fill(
        self, scope: Scope, receive: Receive, send: Send, version: int, entry_key: str
    ) -> None:
        """Run the app; store its response, under the namespace `version` read before
        the handler ran, if it may be cached; send it."""
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        passing_through = False

        async def capture(message: Message) -> None:
            nonlocal start, size, passing_through
            if passing_through:
                await send(message)
            elif message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > self.max_body and message.get("more_body", False):
                    passing_through = True  # too big to keep: stream it on
                    assert start is not None
                    await send(_with_header(start, CACHE_STATUS, b"stackkit; fwd=miss"))
                    await send(
                        {"type": "http.response.body", "body": b"".join(chunks), "more_body": True}
                    )

        await self.app(scope, receive, capture)
        if passing_through or start is None:
            return
        body = b"".join(chunks)
        ttl = self._ttl(scope, start)
        headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() not in _NOT_STORED]
        etag = _header(headers, b"etag") or f'"{hashlib.sha256(body).hexdigest()[:32]}"'.encode()
        if _header(headers, b"etag") is None:
            headers.append((b"etag", etag))
        status = b"stackkit; fwd=miss"
        if ttl > 0 and len(body) <= self.max_body:  # sent in one piece, maybe too big
            entry = CachedEntry(start["status"], headers, body, version)
            try:
                await self.store.set(entry_key, entry.encode(), ttl=ttl)
                status = b"stackkit; fwd=miss; stored"
            except StoreUnavailable as error:
                self._warn(error)
        response_start = start
        if _header(start.get("headers", ()), b"etag") is None:
            response_start = _with_header(start, b"etag", etag)
        if _matches(scope, etag) and 200 <= start["status"] < 300:
            await _send_not_modified(send, etag, status)
            return
        await send(_with_header(response_start, CACHE_STATUS, status))
        await send({"type": "http.response.body", "body": body})

    def _ttl(self, scope: Scope, start: Message) -> float:
        spec = scope.get(ROUTE_SCOPE_KEY)
        if not isinstance(spec, RouteSpec) or not 200 <= start["status"] < 300:
            return 0
        headers = start.get("headers", [])
        control = (_header(headers, b"cache-control") or b"").lower()
        if _header(headers, b"set-cookie") or b"no-store" in control or b"private" in control:
            return 0
        return self.default_ttl if spec.cache_ttl is None else spec.cache_ttl

    async def _send_entry(self, entry: CachedEntry, scope: Scope, send: Send) -> None:
        etag = _header(entry.headers, b"etag") or b""
        if _matches(scope, etag):
            await _send_not_modified(send, etag, b"stackkit; hit")
            return
        headers = hit_headers(entry)
        await send({"type": "http.response.start", "status": entry.status, "headers": headers})
        body = b"" if scope["method"] == "HEAD" else entry.body
        await send({"type": "http.response.body", "body": body})

    # Writes

    async def _write(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def bump() -> None:
            # Before the answer leaves: a client that reads as soon as it has its 2xx
            # must not be served the entry from before its write.
            try:
                await invalidate(self.store, [namespace_of(scope["path"])])
            except Exception as error:  # the write is done: its answer must go out
                self._warn(error)

        await self.app(scope, receive, before_success(send, bump))


def hit_headers(entry: CachedEntry) -> list[tuple[bytes, bytes]]:
    """The headers a hit on `entry` is sent with, before those of the layers around."""
    return [*entry.headers, (b"content-length", b"%d" % len(entry.body)), _HIT]


def current_entry(values: list[bytes | None]) -> CachedEntry | None:
    """The entry of a lookup's values (its namespace's version, the entry), if there is one
    and it was made under that version."""
    raw_version, raw = values
    if raw is None:
        return None
    entry = CachedEntry.decode(raw)
    return entry if entry.version == _version(raw_version) else None


class CachedEntry:
    """A cached response: its status, headers (without those of one response alone),
    body, and the namespace version it was made under. `head` is its encoded head, as
    read (what identifies its status and headers)."""

    __slots__ = ("body", "head", "headers", "status", "version")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        version: int,
        head: bytes = b"",
    ) -> None:
        self.status, self.headers, self.body, self.version = status, headers, body, version
        self.head = head

    def encode(self) -> bytes:
        head = {
            "s": self.status,
            "v": self.version,
            "h": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers],
        }
        return json.dumps(head, separators=(",", ":")).encode() + b"\n" + self.body

    @classmethod
    def decode(cls, raw: bytes) -> CachedEntry:
        head, _, body = raw.partition(b"\n")
        try:
            status, headers, version = _heads[head]
        except KeyError:
            status, headers, version = _decode_head(head)
        return cls(status, headers, body, version, head)


# Decoded entry heads (status, headers, version), by their bytes: a head is decoded
# once, not on every hit. Decoding depends on the head's bytes alone, so the body (whose
# hashing would cost what this saves) need not be part of the key. The header lists
# are shared: read them, never change them.
_heads: dict[bytes, tuple[int, list[tuple[bytes, bytes]], int]] = {}
_HEADS_KEPT = 4096


def _decode_head(head: bytes) -> tuple[int, list[tuple[bytes, bytes]], int]:
    data: dict[str, Any] = json.loads(head)
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in data["h"]]
    decoded = (data["s"], headers, data["v"])
    if len(_heads) >= _HEADS_KEPT:
        del _heads[next(iter(_heads))]  # the oldest: cheaper than LRU upkeep
    _heads[head] = decoded
    return decoded


async def invalidate(store: Store, namespaces: Iterable[str]) -> None:
    """Make every entry cached under these namespaces (`/api/notes`) a miss, in every
    process that shares `store`.

    Raises:
        StoreUnavailable: the store did not answer.
    """
    for namespace in namespaces:
        await store.incr(version_key(namespace))


def version_key(namespace: str) -> str:
    """The key of a namespace's version; the braces keep a namespace's keys in one
    Redis Cluster slot."""
    return f"{{{namespace}}}:v"


def cache_identity(scope: Scope) -> str:
    """Who a cached answer is for: `user:<id>` and the session of the access token, or
    "anonymous". The session id is random, so an entry can never reach a later account
    that reuses the user id, and it dies with the session."""
    who = principal(scope)
    if who is None:
        return "anonymous"
    session_id = getattr(scope.get("user"), "session_id", None)
    return who if session_id is None else f"{who}:{session_id}"


class LookupKeys(NamedTuple):
    """Where a cached GET's answer lives: its namespace (`/api/notes`) and the digest of
    who asks what."""

    namespace: str
    digest: str

    @property
    def version(self) -> str:
        return version_key(self.namespace)

    @property
    def entry(self) -> str:
        return f"{{{self.namespace}}}:e:{self.digest}"

    @property
    def lock(self) -> str:
        """The single-flight lock of a miss."""
        return f"{{{self.namespace}}}:l:{self.digest}"


def lookup_keys(scope: Scope, find_route: RouteFinder) -> LookupKeys | None:
    """The keys a cached GET reads; None for a request whose route is not cached."""
    if not cached_route(scope, find_route):
        return None
    return LookupKeys(namespace_of(scope["path"]), _digest(scope))


def cached_route(scope: Scope, find_route: RouteFinder) -> bool:
    """Whether the request's route is a controller route the cache keeps (`cache_ttl`
    not 0)."""
    spec = find_route(scope)
    return spec is not None and spec.cache_ttl != 0


def namespace_of(path: str) -> str:
    """`/api/notes/7/comments` -> `/api/notes`: what a write there invalidates."""
    parts = [part for part in path.split("/") if part]
    return "/" + "/".join(parts[:2])


def _digest(scope: Scope) -> str:
    # The query's parameters sorted, as sent: no decoding and encoding again. Two ways of
    # writing one query (`%20` or `+`) are two entries, never one entry for two queries.
    # `name` is `name=`, as Starlette reads it.
    query = scope.get("query_string", b"")
    if query:
        query = b"&".join(
            sorted(part if b"=" in part else part + b"=" for part in query.split(b"&") if part)
        )
    # The user's roles are part of the key: what an admin was shown is not what the same
    # user sees once they are an admin no more (roles change with a new sign-in).
    roles = ",".join(sorted(getattr(scope.get("auth"), "scopes", ())))
    # So is whether the token says the email is verified: a route declared
    # `verified=True` answered a verified token; an unverified one must not get it.
    verified = "v" if getattr(scope.get("user"), "email_verified", False) else ""
    who = cache_identity(scope)
    material = f"{who}\x00{roles}\x00{verified}\x00{scope['path']}\x00".encode() + query
    return hashlib.sha256(material).hexdigest()[:32]


def _version(raw: bytes | None) -> int:
    return int(raw) if raw else 0


def _header(headers: Any, name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return bytes(value)
    return None


def _matches(scope: Scope, etag: bytes) -> bool:
    """Whether the request's `If-None-Match` matches `etag` (`none_match`)."""
    wanted = _header(scope["headers"], b"if-none-match")
    if wanted is None or not etag:
        return False
    return none_match(wanted.decode("latin-1"), parse_entity_tag(etag.decode("latin-1")))


async def _send_not_modified(send: Send, etag: bytes, status: bytes) -> None:
    headers = [(b"etag", etag), (CACHE_STATUS, status)]
    await send({"type": "http.response.start", "status": 304, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _with_header(start: Message, name: bytes, value: bytes) -> Message:
    return with_headers(start, [(name, value)])


def _with_status(send: Send, value: bytes) -> Send:
    return sending_headers(send, [(CACHE_STATUS, value)])
