"""`SessionStore`: server-side sessions on any `Store`, for the auth building block.

A session lives `ttl` seconds (24 h by default) past its last `touch()`
(sliding expiry), and never past `max_lifetime` after its creation. Each user
has an index of their sessions, so that they can be listed and all revoked
at once (log out everywhere).

Keys: the index under `{user:<user_id>}:sessions`, the session beside it under
`session:{user:<user_id>}:<random>`: a session's id is `<user_id>~<random>`, so
that its key carries its user's hash tag. On a Redis Cluster, a request's session,
its user's index and its user's rate-limit counters (`{user:<id>}:rl:...`) then
share one slot, and the session check and the limit go in one command. (A user
id with other characters than letters, digits, `_` and `-` gets a plain random
id and `session:{<id>}`, as every session made before this scheme.) The index
is written before the session, so a
failure in between can leave an index entry without a session (skipped when
listing) but never a session the index does not know: revoking all of a user's
sessions cannot miss one.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from stackkit.cache.store import Store

__all__ = ["Session", "SessionStore"]

# Session values whose owner `is_alive` remembers (see there); the oldest go beyond.
_OWNERS_KEPT = 10_000
_TAGGABLE = re.compile(r"[0-9A-Za-z_-]{1,64}")
"""User ids a session id may name (no `~`, `.`, `/`, braces or spaces)."""


@dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    created_at: float
    """Unix time."""
    expires_at: float
    """Unix time: `ttl` after the last touch, capped by `max_expires_at`."""
    max_expires_at: float
    """Unix time past which no touch extends the session."""
    data: dict[str, Any] = field(default_factory=dict)
    """What the auth layer keeps with the session (device, refresh generation, ...)."""


class SessionStore:
    """Create, read, extend and revoke sessions.

    Args:
        store: where sessions live; in production a Redis store whose eviction policy
            does not evict live keys (see the caching guide).
        ttl: seconds a session lives past its last touch.
        max_lifetime: seconds a session may live in all, however often touched.
        clock: Unix time in seconds; tests pass their own.
    """

    def __init__(
        self,
        store: Store,
        *,
        ttl: float = 86_400,
        max_lifetime: float = 30 * 86_400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl <= 0 or max_lifetime < ttl:
            raise ValueError("need 0 < ttl <= max_lifetime")
        self.store = store
        self.ttl = ttl
        self.max_lifetime = max_lifetime
        self.clock = clock
        self._owners: dict[bytes, Any] = {}

    @staticmethod
    def key(session_id: str) -> str:
        """The session's key in the store (before the store's prefix): in its user's hash
        tag when its id names the user (see the module)."""
        user_id, tagged, rest = session_id.partition("~")
        if tagged:
            return f"session:{{user:{user_id}}}:{rest}"
        return f"session:{{{session_id}}}"

    @staticmethod
    def new_id(user_id: str) -> str:
        """A new session's id: `<user_id>~<32 random characters>` (192 bits), or the
        random part alone for a user id that could not sit in a refresh token or a path."""
        random_part = secrets.token_urlsafe(24)
        if _TAGGABLE.fullmatch(user_id):
            return f"{user_id}~{random_part}"
        return random_part

    @staticmethod
    def _index(user_id: str) -> str:
        return f"{{user:{user_id}}}:sessions"

    async def create(self, user_id: str, data: Mapping[str, Any] | None = None) -> Session:
        now = self.clock()
        session = Session(
            id=self.new_id(str(user_id)),
            user_id=str(user_id),
            created_at=now,
            expires_at=now + self.ttl,
            max_expires_at=now + self.max_lifetime,
            data=dict(data or {}),
        )
        await self._save(session)
        return session

    async def get(self, session_id: str) -> Session | None:
        """The session if it exists and has not expired."""
        raw = await self.store.get(self.key(session_id))
        if raw is None:
            return None
        session = Session(**json.loads(raw))
        return session if session.expires_at > self.clock() else None

    async def is_alive(self, session_id: str, user_id: str | None = None) -> bool:
        """Whether the session exists and, given `user_id`, is that user's: one read
        (checked on every authenticated request)."""
        return self.owned(await self.store.get(self.key(session_id)), user_id)

    def owned(self, raw: bytes | None, user_id: str | None = None) -> bool:
        """Whether `raw`, a session's stored value (None: no session), is a session and,
        given `user_id`, that user's."""
        if raw is None:
            return False
        if user_id is None:
            return True
        # The store is read on every call, so an ended session fails at once; only the
        # decoding of its value (a few microseconds, as much as the rest of the check) is
        # remembered, by the exact bytes decoded: a session written anew is decoded anew.
        owners = self._owners
        try:
            owner = owners[raw]
        except KeyError:
            owner = json.loads(raw).get("user_id")
            if len(owners) >= _OWNERS_KEPT:
                del owners[next(iter(owners))]  # the oldest: cheaper than LRU upkeep
            owners[raw] = owner
        return bool(owner == user_id)

    async def touch(self, session_id: str, data: Mapping[str, Any] | None = None) -> Session | None:
        """Extend the session by `ttl` (up to its maximum lifetime), optionally replacing
        its data; None if it no longer exists.

        A session revoked while this runs stays revoked: the write only replaces a
        session that is still there.
        """
        session = await self.get(session_id)
        if session is None:
            return None
        expires_at = min(self.clock() + self.ttl, session.max_expires_at)
        changed = {"expires_at": expires_at}
        if data is not None:
            changed["data"] = dict(data)  # type: ignore[assignment]
        session = Session(**{**asdict(session), **changed})
        return session if await self._save(session, replace=True) else None

    async def revoke(self, session_id: str) -> bool:
        """End one session; whether it existed."""
        session = await self.get(session_id)
        removed = await self.store.delete(self.key(session_id))
        if session is not None:
            await self.store.index_remove(self._index(session.user_id), session_id)
        return removed > 0

    async def revoke_all(self, user_id: str) -> int:
        """End every session of a user (log out everywhere); how many there were."""
        index = self._index(str(user_id))
        ids = await self.store.index_members(index, now=self.clock())
        removed = await self.store.delete(*(self.key(i) for i in ids)) if ids else 0
        await self.store.index_remove(index)
        return removed

    async def list(self, user_id: str) -> list[Session]:
        """A user's live sessions, the soonest to expire first."""
        ids = await self.store.index_members(self._index(str(user_id)), now=self.clock())
        sessions = [await self.get(i) for i in ids]
        return [s for s in sessions if s is not None and s.user_id == str(user_id)]

    async def _save(self, session: Session, *, replace: bool = False) -> bool:
        remaining = session.expires_at - self.clock()
        if remaining <= 0:
            return False
        await self.store.index_add(
            self._index(session.user_id), session.id, expires_at=session.expires_at
        )
        payload = json.dumps(asdict(session), separators=(",", ":")).encode()
        if replace:
            return await self.store.replace(self.key(session.id), payload, ttl=remaining)
        await self.store.set(self.key(session.id), payload, ttl=remaining)
        return True
