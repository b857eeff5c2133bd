"""`MemoryStore`: bounded by keys or by bytes, least recently used first, O(1) operations."""

from __future__ import annotations

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
