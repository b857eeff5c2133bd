"""Named stores (`create_app(stores=...)`): each feature's store by name, defaults from
settings, and a store refused when it lacks what its use needs."""

from __future__ import annotations

import asyncio
import re

import pytest
from starlette.testclient import TestClient

from stackkit import Controller, Settings, create_app
from stackkit.auth import AuthConfig
from stackkit.auth.user import User
from stackkit.cache import Counters, KeyValueStore, MemoryStore, RedisClusterStore, RedisStore
from stackkit.cache.registry import stores_for
from stackkit.ratelimit.backends import (
    MemoryRateLimitBackend,
    RedisRateLimitBackend,
    backend_for,
)
from stackkit.testing import unique_key_prefix
from tests.auth.conftest import FAST_HASHER, create_user_table, login, register
from tests.cache.test_what_is_cached import client_for
from tests.conftest import STORE_TIMEOUT

EMBEDDED = Settings(env="test", database_url="sqlite:///:memory:")


class CountersOnly(KeyValueStore, Counters):
    """A store with counters and no other capability, on a MemoryStore."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = MemoryStore()

    async def get(self, key: str) -> bytes | None:
        return await self.inner.get(key)

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        await self.inner.set(key, value, ttl=ttl)

    async def replace(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        return await self.inner.replace(key, value, ttl=ttl)

    async def delete(self, *keys: str) -> int:
        return await self.inner.delete(*keys)

    async def expires_in(self, key: str) -> float | None:
        return await self.inner.expires_in(key)

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        return await self.inner.incr(key, amount, ttl=ttl)


def test_each_store_says_what_it_is() -> None:
    flags = {
        kind.__name__: (kind.shared, kind.persistent, kind.evicts, kind.scripts)
        for kind in (MemoryStore, RedisStore, RedisClusterStore, CountersOnly)
    }
    assert flags == {
        "MemoryStore": (False, False, True, False),
        "RedisStore": (True, True, False, True),
        "RedisClusterStore": (True, True, False, True),
        "CountersOnly": (False, False, False, False),
    }


async def test_a_cache_store_without_locks_runs_each_miss() -> None:
    """No single flight without locks: concurrent misses each run the handler, and the
    answer is cached all the same."""
    api = Controller("/api/slow", public=True)
    started = asyncio.Event()
    release = asyncio.Event()
    calls = []

    @api.get("", cache_ttl=60)
    async def slow() -> dict[str, int]:
        calls.append(1)
        if len(calls) == 2:
            started.set()
        await release.wait()
        return {"calls": len(calls)}

    app = create_app(EMBEDDED, controllers=[api], backends=[], stores={"cache": CountersOnly()})
    async with client_for(app) as client:
        misses = [asyncio.create_task(client.get("/api/slow")) for _ in range(2)]
        await asyncio.wait_for(started.wait(), 5)  # both ran the handler at once
        release.set()
        await asyncio.gather(*misses)
        hit = await client.get("/api/slow")
    assert len(calls) == 2
    assert hit.headers["cache-status"] == "stackkit; hit"


def test_by_default_sessions_get_a_store_of_their_own_in_memory() -> None:
    stores = stores_for(EMBEDDED, {})
    assert isinstance(stores["cache"], MemoryStore)
    assert stores["cache"].prefix == "cache:"
    assert isinstance(stores["sessions"], MemoryStore)
    assert stores["sessions"] is not stores["cache"]
    assert stores["limits"] is stores["cache"]
    assert isinstance(backend_for(stores["limits"]), MemoryRateLimitBackend)


def test_a_shared_cache_store_serves_sessions_and_limits_too(redis_url: str) -> None:
    settings = Settings(
        env="test", database_url="sqlite:///:memory:", redis_url=redis_url,
        cache_prefix=unique_key_prefix(),
    )  # fmt: skip
    stores = stores_for(settings, {})
    assert isinstance(stores["cache"], RedisStore)
    assert stores["sessions"] is stores["limits"] is stores["cache"]
    assert isinstance(backend_for(stores["limits"]), RedisRateLimitBackend)
    app = create_app(settings, backends=[])
    assert list(app.state.backends) == ["redis"]  # opened and checked once


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"cahce": MemoryStore()}, "unknown store names ['cahce']; stores are named"),
        ({"sessions": CountersOnly()}, "the 'sessions' store (CountersOnly) lacks Locks, Indexes"),
        ({"cache": CountersOnly()}, None),
    ],
    ids=["misspelt-name", "sessions-without-locks-and-indexes", "cache-with-counters"],
)
def test_a_store_is_refused_when_it_lacks_what_its_use_needs(
    given: dict[str, KeyValueStore], message: str | None
) -> None:
    if message is None:
        assert stores_for(EMBEDDED, given)["cache"] is given["cache"]
        return
    with pytest.raises(ValueError, match=re.escape(message)):
        stores_for(EMBEDDED, given)


def test_rate_limits_refuse_a_shared_store_that_is_not_redis() -> None:
    class Shared(MemoryStore):
        shared = True

    with pytest.raises(ValueError, match="rate limits count in Redis or in this process"):
        backend_for(Shared())


def test_sessions_live_in_the_store_given_for_them() -> None:
    sessions, cache = MemoryStore(), MemoryStore()
    app = create_app(
        EMBEDDED,
        auth=AuthConfig(User, hasher=FAST_HASHER),
        stores={"cache": cache, "sessions": sessions},
        startup=[create_user_table],
    )
    with TestClient(app) as client:
        register(client)
        login(client)

    def session_keys(store: MemoryStore) -> list[str]:
        return [key for key in store._entries if key.startswith("session:")]

    assert len(session_keys(sessions)) == 1
    assert session_keys(cache) == []


def test_a_second_redis_of_its_own_name_serves_the_sessions(redis_url: str) -> None:
    """Sessions on a Redis of their own (one that never evicts), the cache on another:
    both opened and checked, each under its name."""
    cache = RedisStore(redis_url, prefix=unique_key_prefix(), timeout=STORE_TIMEOUT)
    sessions = RedisStore(
        redis_url, prefix=unique_key_prefix(), name="redis-sessions", timeout=STORE_TIMEOUT
    )
    app = create_app(EMBEDDED, backends=[], stores={"cache": cache, "sessions": sessions})
    assert app.state.backends == {"redis": cache, "redis-sessions": sessions}
    unnamed = RedisStore(redis_url, prefix=unique_key_prefix(), timeout=STORE_TIMEOUT)
    with pytest.raises(ValueError, match=r"repeated: \['redis'\] \(name a second store"):
        create_app(EMBEDDED, backends=[], stores={"cache": cache, "sessions": unnamed})


class SharedCounters(CountersOnly):
    """A shared store of an app's own with counters only (no scripts, no indexes)."""

    shared = True


def test_a_shared_cache_of_ones_own_needs_no_more_than_its_uses() -> None:
    """Without authentication nobody keeps sessions, so the sessions store is not
    checked; rate limits count in the process when the cache cannot run scripts. With
    authentication, the defaulted sessions store is refused with how to give one."""
    cache = SharedCounters()
    stores = stores_for(EMBEDDED, {"cache": cache}, sessions=False)
    assert stores["cache"] is cache
    assert isinstance(stores["limits"], MemoryStore)
    assert isinstance(backend_for(stores["limits"]), MemoryRateLimitBackend)
    app = create_app(EMBEDDED, backends=[], stores={"cache": cache})
    assert app.state.backends == {"cache": cache}
    with pytest.raises(ValueError, match=re.escape(
        "the 'sessions' store (SharedCounters) lacks Locks, Indexes (it defaults to the "
        "cache's; give stores={'sessions': ...})"
    )):  # fmt: skip
        stores_for(EMBEDDED, {"cache": cache})
    given = MemoryStore()
    assert stores_for(EMBEDDED, {"cache": cache, "sessions": given})["sessions"] is given
