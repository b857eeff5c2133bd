"""The contract every store keeps, as a test suite a store of your own can run.

    from stackkit.testing.stores import StoreContract


    class TestMyStore(StoreContract):
        @pytest.fixture
        async def store(self) -> AsyncIterator[MyStore]:
            store = MyStore(prefix=unique_key_prefix())
            await store.open()
            yield store
            await store.close()

The `store` fixture gives an open store under a key prefix of the test's own. A
shared store (`shared = True`) also overrides `other_store` (None by default): a
second client of the same server under another prefix, which must not see the
first one's keys. Tests
of a capability the store does not have (`Counters`, `Locks`, `Indexes`) are
skipped. The tests are coroutines: run them with pytest-asyncio.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from stackkit.cache.memory import MemoryStore
from stackkit.cache.store import Counters, Indexes, KeyValueStore, Locks

__all__ = ["StoreContract", "eventually"]


async def eventually(condition: Callable[[], Awaitable[bool]], *, within: float = 5) -> None:
    """Wait until `condition()` holds, polling; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def _needs(store: KeyValueStore, capability: type) -> None:
    if not isinstance(store, capability):
        pytest.skip(f"{type(store).__name__} has no {capability.__name__}")


@pytest.mark.asyncio
class StoreContract:
    """The tests; subclass as `Test...` and give a `store` fixture (see the module)."""

    @pytest.fixture
    def other_store(self) -> KeyValueStore | None:
        """None; a shared store's suite gives a second client instead."""
        return None

    async def test_set_get_delete(self, store: KeyValueStore) -> None:
        assert await store.get("missing") is None
        await store.set("a", b"1")
        await store.set("b", b"2")
        assert await store.get("a") == b"1"
        assert await store.get_many(["a", "missing", "b"]) == [b"1", None, b"2"]
        assert await store.delete("a", "missing", "b") == 2
        assert await store.get("a") is None
        assert await store.delete() == 0

    async def test_values_are_bytes_kept_exactly(self, store: KeyValueStore) -> None:
        value = bytes(range(256)) * 4
        await store.set("binary", value)
        assert await store.get("binary") == value

    async def test_ttl_expires_keys(self, store: KeyValueStore) -> None:
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

    async def test_get_many_answers_none_for_an_expired_key(self, store: KeyValueStore) -> None:
        await store.set("short", b"x", ttl=0.05)
        await store.set("long", b"y", ttl=60)
        deadline = time.monotonic() + 5
        while await store.get_many(["short", "long", "missing"]) != [None, b"y", None]:
            assert time.monotonic() < deadline, "the short-lived key never expired"
            await asyncio.sleep(0.01)

    async def test_replace_writes_only_a_key_that_exists(self, store: KeyValueStore) -> None:
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

    async def test_prefixes_keep_stores_apart(
        self, store: KeyValueStore, other_store: KeyValueStore | None
    ) -> None:
        await store.set("shared-name", b"mine")
        if not store.shared:
            # Another app in the same process would have a store of its own; check the
            # prefix is applied all the same.
            assert store.key("shared-name").startswith(store.prefix)
            return
        other = other_store
        assert other is not None, "a shared store's suite gives an `other_store` fixture"
        try:
            assert await other.get("shared-name") is None
            await other.set("shared-name", b"theirs")
            assert await store.get("shared-name") == b"mine"
        finally:
            await other.delete("shared-name")

    async def test_check_answers_and_changes_nothing(self, store: KeyValueStore) -> None:
        await store.set("kept", b"1")
        assert await store.check() is None  # type: ignore[func-returns-value]
        assert await store.get("kept") == b"1"
        if isinstance(store, MemoryStore):
            assert len(store) == 1

    async def test_incr_is_atomic_and_sets_ttl_on_creation(self, store: KeyValueStore) -> None:
        _needs(store, Counters)
        assert isinstance(store, Counters)
        assert await store.incr("counter", ttl=60) == 1
        await asyncio.gather(*(store.incr("counter") for _ in range(99)))
        assert await store.incr("counter", 0) == 100
        assert await store.incr("counter", -10) == 90
        remaining = await store.expires_in("counter")
        assert remaining is not None
        assert remaining > 50

    async def test_incr_sets_its_ttl_only_when_it_creates_the_key(
        self, store: KeyValueStore
    ) -> None:
        _needs(store, Counters)
        assert isinstance(store, Counters)
        assert await store.incr("counter", ttl=60) == 1
        assert await store.incr("counter", ttl=1) == 2  # the key exists: its expiry stays
        remaining = await store.expires_in("counter")
        assert remaining is not None
        assert remaining > 50
        assert await store.incr("forever") == 1
        assert await store.incr("forever", ttl=60) == 2
        assert await store.expires_in("forever") is None

    async def test_set_if_absent_lets_one_caller_win(self, store: KeyValueStore) -> None:
        _needs(store, Locks)
        assert isinstance(store, Locks)
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

    async def test_lock_expires_by_itself(self, store: KeyValueStore) -> None:
        _needs(store, Locks)
        assert isinstance(store, Locks)
        locks = store
        assert await locks.set_if_absent("lock", b"me", ttl=0.05)

        async def free_again() -> bool:
            return await locks.set_if_absent("lock", b"you", ttl=30)

        await eventually(free_again)

    async def test_index_members_expire_and_can_be_removed(self, store: KeyValueStore) -> None:
        _needs(store, Indexes)
        assert isinstance(store, Indexes)
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
