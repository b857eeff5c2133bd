"""One suite for every store: memory, Redis and a real Redis Cluster."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from redis import exceptions as redis_errors

from stackkit.cache import MemoryStore, RedisStore, Store, StoreUnavailable
from stackkit.cache.redis_store import unavailable
from stackkit.testing import RedisProcess, unique_key_prefix


async def eventually(condition: Callable[[], Awaitable[bool]], *, within: float = 5) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_set_get_delete(store: Store) -> None:
    assert await store.get("missing") is None
    await store.set("a", b"1")
    await store.set("b", b"2")
    assert await store.get("a") == b"1"
    assert await store.get_many(["a", "missing", "b"]) == [b"1", None, b"2"]
    assert await store.delete("a", "missing", "b") == 2
    assert await store.get("a") is None
    assert await store.delete() == 0


async def test_values_are_bytes_kept_exactly(store: Store) -> None:
    value = bytes(range(256)) * 4
    await store.set("binary", value)
    assert await store.get("binary") == value


async def test_ttl_expires_keys(store: Store) -> None:
    await store.set("short", b"x", ttl=0.05)
    await store.set("long", b"y", ttl=60)
    await store.set("forever", b"z")
    remaining = await store.expires_in("long")
    assert remaining is not None
    assert 59 < remaining <= 60
    assert await store.expires_in("forever") is None
    assert await store.expires_in("missing") is None

    async def short_gone() -> bool:
        return await store.get("short") is None

    await eventually(short_gone)
    assert await store.get("long") == b"y"


async def test_incr_is_atomic_and_sets_ttl_on_creation(store: Store) -> None:
    assert await store.incr("counter", ttl=60) == 1
    await asyncio.gather(*(store.incr("counter") for _ in range(99)))
    assert await store.incr("counter", 0) == 100
    assert await store.incr("counter", -10) == 90
    remaining = await store.expires_in("counter")
    assert remaining is not None
    assert remaining > 50


async def test_set_if_absent_lets_one_caller_win(store: Store) -> None:
    outcomes = await asyncio.gather(
        *(store.set_if_absent("lock", str(n).encode(), ttl=30) for n in range(50))
    )
    assert outcomes.count(True) == 1
    holder = await store.get("lock")
    assert holder is not None
    assert not await store.delete_if_equals("lock", b"someone else")
    assert await store.get("lock") == holder
    assert await store.delete_if_equals("lock", holder)
    assert await store.set_if_absent("lock", b"next", ttl=30)


async def test_replace_writes_only_a_key_that_exists(store: Store) -> None:
    assert not await store.replace("session", b"v2", ttl=30)
    assert await store.get("session") is None
    await store.set("session", b"v1", ttl=30)
    assert await store.replace("session", b"v2", ttl=60)
    assert await store.get("session") == b"v2"
    remaining = await store.expires_in("session")
    assert remaining is not None
    assert remaining > 50
    await store.delete("session")
    assert not await store.replace("session", b"v3", ttl=30)
    assert await store.get("session") is None


async def test_lock_expires_by_itself(store: Store) -> None:
    assert await store.set_if_absent("lock", b"me", ttl=0.05)

    async def free_again() -> bool:
        return await store.set_if_absent("lock", b"you", ttl=30)

    await eventually(free_again)


async def test_index_members_expire_and_can_be_removed(store: Store) -> None:
    now = time.time()
    await store.index_add("{user:1}:sessions", "b", expires_at=now + 200)
    await store.index_add("{user:1}:sessions", "a", expires_at=now + 100)
    await store.index_add("{user:1}:sessions", "old", expires_at=now - 1)
    assert await store.index_members("{user:1}:sessions", now=now) == ["a", "b"]
    assert await store.index_members("{user:1}:sessions", now=now + 150) == ["b"]
    await store.index_add("{user:1}:sessions", "c", expires_at=now + 300)
    await store.index_remove("{user:1}:sessions", "c")
    assert await store.index_members("{user:1}:sessions", now=now) == ["b"]
    await store.index_remove("{user:1}:sessions")
    assert await store.index_members("{user:1}:sessions", now=now) == []


async def test_prefixes_keep_stores_apart(store: Store) -> None:
    await store.set("shared-name", b"mine")
    other_prefix = unique_key_prefix()
    if isinstance(store, MemoryStore):
        # Another app in the same process would have a MemoryStore of its own; check the
        # prefix is applied all the same.
        assert store.key("shared-name").startswith(store.prefix)
        return
    other = type(store)(store.url, prefix=other_prefix)  # type: ignore[attr-defined]
    await other.open()
    try:
        assert await other.get("shared-name") is None
        await other.set("shared-name", b"theirs")
        assert await store.get("shared-name") == b"mine"
    finally:
        await other.delete("shared-name")
        await other.close()


async def test_check_answers_and_changes_nothing(store: Store) -> None:
    await store.set("kept", b"1")
    assert await store.check() is None
    assert await store.get("kept") == b"1"
    if isinstance(store, MemoryStore):
        assert len(store) == 1


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
