"""Every store of stackkit's own (memory, Redis and a real Redis Cluster) keeps the
shipped contract (`stackkit.testing.stores`); then what is particular to each."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from redis import exceptions as redis_errors

from stackkit.cache import MemoryStore, RedisStore, Store, StoreUnavailable
from stackkit.cache.redis_store import unavailable
from stackkit.testing import RedisProcess, unique_key_prefix
from stackkit.testing.stores import StoreContract, eventually


class TestStores(StoreContract):
    """The shipped contract suite on every store of stackkit's own, through the `store`
    fixture of tests/conftest.py."""

    @pytest.fixture
    async def other_store(self, store: Store) -> AsyncIterator[Store | None]:
        """A second client of a Redis store's server, under a prefix of its own."""
        if not isinstance(store, RedisStore):
            yield None
            return
        other = type(store)(store.url, prefix=unique_key_prefix())
        await other.open()
        yield other
        await other.close()


async def test_check_raises_while_redis_is_away(redis_process: RedisProcess) -> None:
    """`/readyz` relies on `check()` raising when the store cannot answer."""
    store = RedisStore(redis_process.url, prefix=unique_key_prefix(), timeout=0.5)
    await store.open()
    try:
        await store.check()
        redis_process.stop(keep_data=True)
        with pytest.raises(StoreUnavailable):
            await store.check()
        redis_process.start()

        async def answers() -> bool:
            try:
                await store.check()
            except StoreUnavailable:
                return False
            return True

        await eventually(answers)
    finally:
        await store.close()


# Memory: the bound.


async def test_memory_store_keeps_its_size_at_capacity_evicting_least_recently_used() -> None:
    store = MemoryStore(max_entries=100)
    for n in range(100):
        await store.set(f"k{n}", b"v")
    for n in range(10):  # touch the ten oldest: now the most recently used
        assert await store.get(f"k{n}") == b"v"
    for n in range(100, 1000):  # ten times the capacity
        await store.set(f"k{n}", b"v")
        assert len(store) <= 100
    assert len(store) == 100
    assert store.evictions == 900
    survivors = {f"k{n}" for n in range(900, 1000)}
    assert {k for k in [f"k{n}" for n in range(1000)] if await store.get(k) is not None} == (
        survivors
    )


async def test_memory_store_recently_used_keys_survive_eviction() -> None:
    store = MemoryStore(max_entries=3)
    await store.set("a", b"1")
    await store.set("b", b"2")
    await store.set("c", b"3")
    await store.get("a")  # a is now the most recently used; b the least
    await store.set("d", b"4")
    assert await store.get("b") is None
    assert [await store.get(k) for k in "acd"] == [b"1", b"3", b"4"]


async def test_memory_store_byte_bound() -> None:
    store = MemoryStore(max_entries=10_000, max_bytes=10_000)
    for n in range(1000):
        await store.set(f"k{n}", b"x" * 100)
        assert store.size_bytes <= 10_000
    assert 0 < len(store) < 1000
    await store.set("huge", b"x" * 20_000)  # larger than the whole store: not kept
    assert await store.get("huge") is None
    assert len(store) > 0


async def test_memory_store_expiry_uses_its_clock() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    await store.set("k", b"v", ttl=10)
    now[0] += 9.9
    assert await store.get("k") == b"v"
    now[0] += 0.2
    assert await store.get("k") is None
    assert len(store) == 0


# Redis: an outage raises StoreUnavailable at once, and the store recovers by itself.


async def test_redis_store_outage_is_prompt_and_recovers(redis_process: RedisProcess) -> None:
    store = RedisStore(redis_process.url, prefix=unique_key_prefix(), timeout=0.5)
    await store.open()
    try:
        await store.set("k", b"v")
        redis_process.stop(keep_data=True)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.get("k")
        assert time.monotonic() - started < 1.5
        redis_process.start()

        async def answers() -> bool:
            try:
                await store.set("k", b"back")
            except StoreUnavailable:
                return False
            return True

        await eventually(answers)
        assert await store.get("k") == b"back"
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("error", "down", "slow"),
    [
        (redis_errors.ConnectionError("Connection refused"), True, False),
        (redis_errors.TimeoutError("Timeout reading from socket"), True, True),
        (redis_errors.ConnectionError("No connection available."), True, True),
        (redis_errors.OutOfMemoryError("command not allowed when used memory"), True, False),
        (redis_errors.ResponseError("MISCONF Redis is configured to save RDB"), True, False),
        (redis_errors.RedisClusterException("Redis Cluster cannot be connected"), True, False),
        (redis_errors.ResponseError("ERR unknown command 'FOO'"), False, False),
        (ValueError("not Redis's"), False, False),
    ],
    ids=["refused", "timeout", "pool-busy", "oom", "misconf", "cluster", "bad-command", "other"],
)
def test_redis_errors_are_told_apart(error: Exception, down: bool, slow: bool) -> None:
    # Away or slow is an outage (the callers fail open, or 503); a bad command is a bug.
    meaning = unavailable(error)
    assert (meaning is not None) == down
    if meaning is not None:
        assert meaning.slow == slow


async def test_memory_indexes_stay_bounded() -> None:
    store = MemoryStore(max_entries=3)
    for n in range(5):
        await store.index_add(f"user:{n}", "s", expires_at=100)
    assert [await store.index_members(f"user:{n}", now=0) for n in range(5)] == [
        [], [], ["s"], ["s"], ["s"],
    ]  # fmt: skip
    for n in range(5):
        await store.index_add("user:4", f"s{n}", expires_at=100 + n)
    # The members that expire first went.
    assert await store.index_members("user:4", now=0) == ["s2", "s3", "s4"]
