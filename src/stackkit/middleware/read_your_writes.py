"""`ReadYourWritesMiddleware`: after a write, its writer and its path read from the primary.

Read units go to a replica, which may not have replayed the last writes yet. Within
one request, `Database` already sends reads that follow a write to the primary. This
middleware carries that across requests and processes, through the shared store:

- a successful write (POST, PUT, PATCH, DELETE answered 2xx) marks its user and its
  path's namespace (`/api/notes/7` -> `/api/notes`, as the response cache) for
  `window` seconds, before its answer is sent;
- a read by a marked user, or under a marked namespace, sends its read units to the
  primary;
- a write request reads from the primary throughout: what it checks before writing
  (a taken email, a referenced row, a password at sign-in) must be current.

So a user reads back what they just wrote whichever process serves them, and no one
fills the response cache from a replica that is behind (the cache would keep the stale
answer for its whole TTL). `create_app` adds it, innermost, when the app has read
replicas: only requests that reach the handlers pay the one store read. When the
store does not answer, reads go to the primary: it is always up to date.
"""

from __future__ import annotations

import logging
from functools import partial

from starlette.types import ASGIApp, Receive, Scope, Send

from stackkit.cache.store import Store
from stackkit.db import read_from_primary
from stackkit.http.asgi import before_success
from stackkit.http.routing import principal
from stackkit.logs import ThrottledWarning
from stackkit.middleware.response_cache import namespace_of

__all__ = ["ReadYourWritesMiddleware"]

logger = logging.getLogger("stackkit.db")

_READS = frozenset({"GET", "HEAD"})
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ReadYourWritesMiddleware:
    """Pure ASGI. Place it after authentication (it needs the user).

    Args:
        store: shared by every process of the app (Redis), or the process's own.
        window: seconds after a write during which its user and namespace read from the
            primary; longer than the replicas ever lag. 0: no marks, but write
            requests still read from the primary.
    """

    def __init__(self, app: ASGIApp, *, store: Store, window: float) -> None:
        self.app = app
        self.store = store
        self.window = window
        self._warn = ThrottledWarning(
            logger, "Recent writes not marked or not read, the store does not answer: %s"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["method"] in _READS:
            if await self._wrote_recently(self._keys(scope)):
                read_from_primary()
            await self.app(scope, receive, send)
        elif scope["method"] in _WRITES:
            await self._write(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _wrote_recently(self, keys: list[str]) -> bool:
        if not self.window:
            return False
        try:
            return any(value is not None for value in await self.store.get_many(keys))
        except Exception as error:  # whatever the store's trouble, the primary is current
            self._warn(error)
            return True

    async def _write(self, scope: Scope, receive: Receive, send: Send) -> None:
        # What a write checks first (a taken email, a referenced row, a password) must
        # be current: a sign-in right after registering would not find the account.
        read_from_primary()
        if not self.window:
            await self.app(scope, receive, send)
            return
        # Before the answer leaves: a client that reads as soon as it has its 201 must
        # find the mark.
        await self.app(scope, receive, before_success(send, partial(self._mark, scope)))

    async def _mark(self, scope: Scope) -> None:
        try:
            for key in self._keys(scope):
                await self.store.set(key, b"1", ttl=self.window)
        except Exception as error:  # the write is committed: its answer must still go out
            self._warn(error)

    @staticmethod
    def _keys(scope: Scope) -> list[str]:
        # The namespace's mark shares its hash tag with the response cache's version
        # key: on a Redis Cluster both live on one node, and fail or succeed together.
        keys = [f"{{{namespace_of(scope['path'])}}}:w"]
        who = principal(scope)
        return keys if who is None else [*keys, f"{{{who}}}:w"]
