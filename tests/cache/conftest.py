from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from stackkit.cache import MemoryStore, RedisClusterStore, RedisStore, Store
from stackkit.testing import unique_key_prefix
from tests.helpers import opened


@pytest.fixture(params=["memory", "redis", "cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A store of each kind, under a key prefix of this test's own, emptied afterwards."""
    prefix = unique_key_prefix()
    if request.param == "memory":
        yield MemoryStore(prefix=prefix)
        return
    if request.param == "redis":
        redis_store: RedisStore = RedisStore(request.getfixturevalue("redis_url"), prefix=prefix)
    else:
        url = request.getfixturevalue("redis_cluster_url")
        redis_store = RedisClusterStore(url, prefix=prefix)
    async with opened(redis_store):
        yield redis_store


@pytest.fixture
async def redis_store(redis_url: str) -> AsyncIterator[RedisStore]:
    """A store on Redis under a key prefix of this test's own, emptied afterwards."""
    store = RedisStore(redis_url, prefix=unique_key_prefix())
    async with opened(store):
        yield store


@pytest.fixture(params=["memory", "redis"])
async def cache_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A response cache's store: in memory, or on Redis under a prefix of its own."""
    if request.param == "memory":
        yield MemoryStore()
        return
    store = RedisStore(request.getfixturevalue("redis_url"), prefix=unique_key_prefix())
    async with opened(store):
        yield store
