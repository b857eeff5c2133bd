from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from stackkit.cache import RedisClusterStore, RedisStore
from stackkit.ratelimit import MemoryRateLimitBackend, RateLimitBackend, RedisRateLimitBackend
from stackkit.ratelimit.backends import Algorithm
from stackkit.testing import unique_key_prefix
from tests.conftest import STORE_TIMEOUT
from tests.helpers import opened


async def each_backend(
    request: pytest.FixtureRequest, algorithm: Algorithm, kind: str | None = None
) -> AsyncIterator[RateLimitBackend]:
    """The backend `kind` (else `request.param`) names: memory, redis, cluster; keys
    removed after."""
    kind = kind or request.param
    if kind == "memory":
        yield MemoryRateLimitBackend(algorithm=algorithm)
        return
    prefix = unique_key_prefix()
    options = {"prefix": prefix, "timeout": STORE_TIMEOUT}  # they count; they do not time
    if kind == "redis":
        store: RedisStore = RedisStore(request.getfixturevalue("redis_url"), **options)
    else:
        store = RedisClusterStore(request.getfixturevalue("redis_cluster_url"), **options)
    async with opened(store):
        yield RedisRateLimitBackend(store, algorithm=algorithm)


@pytest.fixture(params=["memory", "redis", "cluster"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[RateLimitBackend]:
    """A GCRA backend of each kind."""
    async for backend in each_backend(request, "gcra"):
        yield backend


@pytest.fixture(params=["memory", "redis", "cluster"])
async def window_backend(request: pytest.FixtureRequest) -> AsyncIterator[RateLimitBackend]:
    """A fixed-window backend of each kind."""
    async for backend in each_backend(request, "fixed-window"):
        yield backend


@pytest.fixture(
    params=[
        (kind, algorithm) for kind in ("redis", "cluster") for algorithm in ("gcra", "fixed-window")
    ],
    ids="-".join,
)
async def redis_backend(request: pytest.FixtureRequest) -> AsyncIterator[RedisRateLimitBackend]:
    """A Redis backend of each kind (single, cluster) and algorithm."""
    kind, algorithm = request.param
    async for backend in each_backend(request, algorithm, kind):
        assert isinstance(backend, RedisRateLimitBackend)
        yield backend
