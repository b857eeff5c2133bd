"""`MemoryStore`: bounded by keys or by bytes, least recently used first, O(1) operations."""

from __future__ import annotations

import time

import pytest

from stackkit.cache import MemoryStore
from stackkit.cache.memory import ENTRY_OVERHEAD

CAPACITY = 50
VALUE = b"x" * 100
ENTRY_SIZE = len("k0000") + len(VALUE) + ENTRY_OVERHEAD  # every key below is 5 characters


def bounded(bound: str) -> MemoryStore:
    """A store that holds `CAPACITY` entries of `VALUE`, by its key or by its byte limit."""
    if bound == "entries":
        return MemoryStore(max_entries=CAPACITY)
    return MemoryStore(max_entries=10_000, max_bytes=CAPACITY * ENTRY_SIZE)


@pytest.mark.parametrize("bound", ["entries", "bytes"])
async def test_either_bound_evicts_the_least_recently_used_first(bound: str) -> None:
    store = bounded(bound)
    hot = [f"k{n:04d}" for n in range(5)]  # the oldest keys, read after every insert
    for key in hot:
        await store.set(key, VALUE)
    inserted = [f"k{n:04d}" for n in range(5, 10 * CAPACITY)]  # ten times the capacity
    for key in inserted:
        await store.set(key, VALUE)
        assert len(store) <= CAPACITY
        assert store.size_bytes <= CAPACITY * ENTRY_SIZE
        for hot_key in hot:
            assert await store.get(hot_key) == VALUE
    assert len(store) == CAPACITY
    assert store.evictions == len(hot) + len(inserted) - CAPACITY
    kept = {key for key in hot + inserted if await store.get(key) is not None}
    # Not the oldest (first in, first out would have dropped the hot keys long ago), but
    # the least recently used went.
    assert kept == set(hot) | set(inserted[-(CAPACITY - len(hot)) :])


async def _seconds_per_round(size: int) -> float:
    """The best of five rounds of every operation on 200 keys spread over a full store."""
    store = MemoryStore(max_entries=size)
    for n in range(size):
        await store.set(f"k{n}", b"1", ttl=3600)
        await store.index_add(f"i{n}", "member", expires_at=10**10)
    keys = [f"k{n}" for n in range(0, size, size // 200)]
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for key in keys:
            await store.get(key)
            await store.get_many([key, "missing"])
            await store.set(key, b"1", ttl=3600)
            await store.replace(key, b"2", ttl=3600)
            await store.expires_in(key)
            await store.incr(key)
            await store.set_if_absent(key, b"1", ttl=3600)
            await store.delete_if_equals(key, b"3")
            await store.delete(key)
            await store.set(key, b"1", ttl=3600)
            await store.index_add(key, "member", expires_at=10**10)
            await store.index_members(key, now=0)
            await store.index_remove(key, "member")
        best = min(best, time.perf_counter() - started)
    return best


async def test_operations_take_as_long_in_a_full_store_as_in_a_small_one() -> None:
    small = await _seconds_per_round(1_000)
    large = await _seconds_per_round(100_000)
    # A hundred times the entries: an operation that walked the store would take about a
    # hundred times as long; O(1) ones take about as long (a factor for the CPU caches).
    assert large < 4 * small, (small, large)
