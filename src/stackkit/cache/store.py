"""Stores: a small async key-value core plus the capabilities a feature may need.

`KeyValueStore` is the core: keys are strings, values bytes, every key gets the
store's prefix; get/set/replace/delete with a TTL. The capabilities are what
caching and sessions need to be correct across processes: atomic counters
(`Counters`: namespace versions), locks (`Locks`: `set_if_absent` /
`delete_if_equals`, for single flight), and indexes (`Indexes`: sets of members
with their own expiry, a user's sessions). `Store` has them all. Three
implementations pass one contract suite (`stackkit.testing.stores`):
`MemoryStore` (one process, bounded LRU), `RedisStore` and `RedisClusterStore`
(shared by every worker).

A store that cannot reach its server raises `StoreUnavailable`, so that callers
choose to fail open (the response cache) or closed (sessions).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import ClassVar

from stackkit.backends import Backend

__all__ = ["Counters", "Indexes", "KeyValueStore", "Locks", "Store", "StoreUnavailable"]


class StoreUnavailable(Exception):
    """The store's server did not answer, or not in time.

    `slow` is true when the server may be up but did not answer in time (a timeout,
    every connection busy): under load rather than away. Callers that would skip a
    check while the store is away (the session check) still refuse then.
    """

    def __init__(self, message: str = "", *, slow: bool = False) -> None:
        super().__init__(message)
        self.slow = slow


class KeyValueStore(Backend):
    """The small core every store has: async get/set/delete of bytes with a TTL.

    A store declares what else it offers by also subclassing the capabilities it has
    (`Counters`, `Locks`, `Indexes`; `Store` is all of them), and what it is with the
    flags below; a feature asks for the capabilities it needs (`create_app` refuses a
    store that lacks one, naming it).

    Args:
        prefix: put before every key (and index name), so that apps, tests and
            purposes can share one server without meeting.
    """

    name = "cache"
    shared: ClassVar[bool] = False
    """Whether every process of the app sees the same data (a server): then it is
    opened with the app and checked by `/readyz`, and sessions and rate limits
    default to it."""
    persistent: ClassVar[bool] = False
    """Whether its data outlives the app's processes."""
    evicts: ClassVar[bool] = False
    """Whether it may drop a key before its TTL to make room (a bounded memory)."""
    scripts: ClassVar[bool] = False
    """Whether it runs Lua scripts atomically (Redis): what rate limits shared between
    processes need."""

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

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Values of several keys (one round trip where the store can)."""
        return [await self.get(key) for key in keys]

    async def check(self) -> None:
        await self.get("__stackkit_ping__")


class Counters(abc.ABC):
    """Capability: atomic counters (the response cache's namespace versions)."""

    @abc.abstractmethod
    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Add `amount` to an integer value (0 when missing) atomically; return the new
        value. `ttl` applies when the key is created."""


class Locks(abc.ABC):
    """Capability: locks that expire by themselves (the response cache's single flight)."""

    @abc.abstractmethod
    async def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        """Store `value` only if the key does not exist; return whether it was stored.
        With a random `value`, a lock that expires by itself."""

    @abc.abstractmethod
    async def delete_if_equals(self, key: str, value: bytes) -> bool:
        """Delete the key only if it still holds `value` (release one's own lock)."""


class Indexes(abc.ABC):
    """Capability: sets of members that each expire (a user's sessions)."""

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


class Store(KeyValueStore, Counters, Locks, Indexes):
    """A store with every capability: what the response cache, sessions, password
    resets and device cookies use. `MemoryStore`, `RedisStore` and
    `RedisClusterStore` are; a store of an app's own may be a `KeyValueStore` with
    only the capabilities its use needs."""
