"""`Store`: the small async key-value contract behind the response cache and the sessions.

Three implementations pass one test suite: `MemoryStore` (one process, bounded
LRU), `RedisStore` and `RedisClusterStore` (shared by every worker). Keys are
strings, values bytes; every key gets the store's prefix. Besides plain
get/set/delete with a TTL, a store offers what caching and sessions need to be
correct across processes: an atomic counter (namespace versions), a lock
(`set_if_absent` / `delete_if_equals`, for single-flight), and an index, a set
of members with their own expiry (a user's sessions).

A store that cannot reach its server raises `StoreUnavailable`, so that callers
choose to fail open (the response cache) or closed (sessions).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from stackkit.backends import Backend

__all__ = ["Store", "StoreUnavailable"]


class StoreUnavailable(Exception):
    """The store's server did not answer, or not in time.

    `slow` is true when the server may be up but did not answer in time (a timeout,
    every connection busy): under load rather than away. Callers that would skip a
    check while the store is away (the session check) still refuse then.
    """

    def __init__(self, message: str = "", *, slow: bool = False) -> None:
        super().__init__(message)
        self.slow = slow


class Store(Backend):
    """Async key-value store with TTLs. Subclasses implement the abstract methods.

    Args:
        prefix: put before every key (and index name), so that apps, tests and
            purposes can share one server without meeting.
    """

    name = "cache"

    def __init__(self, *, prefix: str = "") -> None:
        self.prefix = prefix

    def key(self, key: str) -> str:
        return self.prefix + key

    @abc.abstractmethod
    async def get(self, key: str) -> bytes | None:
        """The value, or None if the key is missing or expired."""

    @abc.abstractmethod
    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store `value`; it expires after `ttl` seconds (None: never, until evicted)."""

    @abc.abstractmethod
    async def replace(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        """Store `value` only if the key exists; return whether it was stored. A write
        that must not bring back a key deleted meanwhile (a revoked session)."""

    @abc.abstractmethod
    async def delete(self, *keys: str) -> int:
        """Remove the keys; return how many existed."""

    @abc.abstractmethod
    async def expires_in(self, key: str) -> float | None:
        """Seconds until the key expires; None if it is missing or never expires."""

    @abc.abstractmethod
    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Add `amount` to an integer value (0 when missing) atomically; return the new
        value. `ttl` applies when the key is created."""

    @abc.abstractmethod
    async def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        """Store `value` only if the key does not exist; return whether it was stored.
        With a random `value`, a lock that expires by itself."""

    @abc.abstractmethod
    async def delete_if_equals(self, key: str, value: bytes) -> bool:
        """Delete the key only if it still holds `value` (release one's own lock)."""

    @abc.abstractmethod
    async def index_add(self, index: str, member: str, *, expires_at: float) -> None:
        """Add `member` to the set `index` until `expires_at` (a Unix time)."""

    @abc.abstractmethod
    async def index_members(self, index: str, *, now: float) -> list[str]:
        """The members of `index` that have not expired at `now`, the soonest to expire
        first (members expiring together: by name)."""

    @abc.abstractmethod
    async def index_remove(self, index: str, *members: str) -> None:
        """Remove members from `index` (all of them when none are named)."""

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Values of several keys (one round trip where the store can)."""
        return [await self.get(key) for key in keys]

    async def check(self) -> None:
        await self.get("__stackkit_ping__")
