"""`MemoryStore`: a bounded, in-process store with per-key TTL and LRU eviction.

Every operation is O(1) (an `OrderedDict` kept in recency order). When an
insert takes the store past `max_entries` or `max_bytes`, the least recently
used entries go first, so memory stays bounded however many keys arrive.
Expired entries are dropped when touched, and in LRU order like the rest.
Indexes are bounded the same way: at most `max_entries` of them (the least
recently used go), each with at most `max_entries` members (those that expire
first go).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stackkit.cache.store import Store

__all__ = ["MemoryStore"]

# Rough cost of an entry besides its key and value (the dict slot, the entry object).
ENTRY_OVERHEAD = 100


@dataclass(slots=True)
class _Entry:
    value: bytes
    expires_at: float | None
    size: int


class MemoryStore(Store):
    """One process's store. Values live as long as the process (or until evicted).

    Args:
        max_entries: the most keys kept; the least recently used go beyond it.
        max_bytes: the most bytes of keys and values kept (None: no byte limit).
        prefix: put before every key.
        clock: seconds, monotonic; tests pass their own.
    """

    evicts = True

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_bytes: int | None = None,
        prefix: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(prefix=prefix)
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self.evictions = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._indexes: OrderedDict[str, dict[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def _live(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at is not None and entry.expires_at <= self.clock():
            self._remove(key)
            return None
        return entry

    def purge_expired(self) -> int:
        """Drop every expired entry now, touched or not (sessions, reset links and
        counters past their time); how many. The apps' periodic clean-up calls it."""
        now = self.clock()
        expired = [
            key
            for key, entry in self._entries.items()
            if entry.expires_at is not None and entry.expires_at <= now
        ]
        for key in expired:
            self._remove(key)
        return len(expired)

    def _remove(self, key: str) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self._bytes -= entry.size
        return True

    def _put(self, key: str, value: bytes, ttl: float | None) -> None:
        self._remove(key)
        size = len(key) + len(value) + ENTRY_OVERHEAD
        if self.max_bytes is not None and size > self.max_bytes:
            return  # larger than the whole store: keeping it would evict everything
        expires_at = None if ttl is None else self.clock() + ttl
        self._entries[key] = _Entry(value, expires_at, size)
        self._bytes += size
        while len(self._entries) > self.max_entries or (
            self.max_bytes is not None and self._bytes > self.max_bytes
        ):
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size
            self.evictions += 1

    async def get(self, key: str) -> bytes | None:
        return self._get(key)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self._get(key) for key in keys]  # one coroutine, not one per key

    def _get(self, key: str) -> bytes | None:
        key = self.key(key)
        entry = self._live(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry.value

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        self._put(self.key(key), value, ttl)

    async def replace(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        key = self.key(key)
        if self._live(key) is None:
            return False
        self._put(key, value, ttl)
        return True

    async def delete(self, *keys: str) -> int:
        removed = 0
        for key in map(self.key, keys):
            if self._live(key) is not None:
                removed += self._remove(key)
        return removed

    async def expires_in(self, key: str) -> float | None:
        entry = self._live(self.key(key))
        if entry is None or entry.expires_at is None:
            return None
        return entry.expires_at - self.clock()

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        key = self.key(key)
        entry = self._live(key)
        if entry is None:
            value = amount
            self._put(key, str(value).encode(), ttl)
        else:
            value = int(entry.value) + amount
            encoded = str(value).encode()
            grown = len(encoded) - len(entry.value)
            entry.value, entry.size = encoded, entry.size + grown
            self._bytes += grown
            self._entries.move_to_end(key)
        return value

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        key = self.key(key)
        if self._live(key) is not None:
            return False
        self._put(key, value, ttl)
        return True

    async def delete_if_equals(self, key: str, value: bytes) -> bool:
        key = self.key(key)
        entry = self._live(key)
        return entry is not None and entry.value == value and self._remove(key)

    async def index_add(self, index: str, member: str, *, expires_at: float) -> None:
        name = self.key(index)
        members = self._indexes.setdefault(name, {})
        members[member] = expires_at
        self._indexes.move_to_end(name)
        if len(members) > self.max_entries:
            del members[min(members, key=lambda m: (members[m], m))]
        while len(self._indexes) > self.max_entries:
            self._indexes.popitem(last=False)
            self.evictions += 1

    async def index_members(self, index: str, *, now: float) -> list[str]:
        members = self._indexes.get(self.key(index), {})
        for member in [m for m, expires_at in members.items() if expires_at <= now]:
            del members[member]
        return sorted(members, key=lambda m: (members[m], m))  # ties by name, as Redis does

    async def index_remove(self, index: str, *members: str) -> None:
        name = self.key(index)
        if not members:
            self._indexes.pop(name, None)
            return
        existing = self._indexes.get(name, {})
        for member in members:
            existing.pop(member, None)
        if not existing:
            self._indexes.pop(name, None)
