"""pytest fixtures that give tests real PostgreSQL and Redis servers.

pytest loads this module through the ``pytest11`` entry point of stackkit, so
every project that installs stackkit has these fixtures. Nothing starts until
a test asks for a fixture. Servers come from ``STACKKIT_TEST_DATABASE_URL``,
``STACKKIT_TEST_REDIS_URL`` and ``STACKKIT_TEST_REDIS_CLUSTER_URL`` when set,
otherwise from throwaway processes; without either, the test is skipped, or
fails under ``STACKKIT_REQUIRE_SERVICES=1``. Under pytest-xdist each worker
gets its own servers, databases and key prefixes.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TypeVar

import pytest

from stackkit.testing.postgres import (
    PostgresProcess,
    PostgresReplica,
    PostgresReplication,
    temporary_database,
)
from stackkit.testing.process import ServerProcess
from stackkit.testing.redis import RedisProcess, delete_keys, unique_key_prefix
from stackkit.testing.redis_cluster import RedisClusterProcess
from stackkit.testing.s3 import S3Bucket, S3Process, temporary_bucket
from stackkit.testing.services import (
    DATABASE_URL_ENV,
    REDIS_CLUSTER_URL_ENV,
    REDIS_URL_ENV,
    S3_URL_ENV,
    ServiceUnavailable,
    skip_or_fail,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

# The store contract suite's asserts explain their failures like a test module's.
pytest.register_assert_rewrite("stackkit.testing.stores")

__all__ = [
    "postgres_replication",
    "postgres_server_url",
    "postgres_url",
    "redis_cluster_url",
    "redis_key_prefix",
    "redis_process",
    "redis_server_url",
    "redis_url",
    "s3_bucket",
    "s3_server_url",
]

_Server = TypeVar("_Server", bound=ServerProcess | RedisClusterProcess)
_USE_RUNNING = "set {} to use a running server instead"


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server: ``STACKKIT_TEST_DATABASE_URL``, or a throwaway one."""
    configured = _configured(DATABASE_URL_ENV)
    if configured is not None:
        yield configured
        return
    with _start(PostgresProcess(), hint=_USE_RUNNING.format(DATABASE_URL_ENV)) as server:
        yield server.url


@pytest.fixture(scope="session")
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """URL of a fresh, empty ``stackkit_test_<hex>`` database, dropped at the end of the session."""
    with temporary_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def postgres_replication() -> Iterator[PostgresReplication]:
    """A throwaway PostgreSQL primary and a streaming read replica of it, of the test's own.

    Both start for the test (about two seconds) and are stopped after it, so the
    test may stop and start either. Never the server of
    ``STACKKIT_TEST_DATABASE_URL``, which has no replica.
    """
    with _start(PostgresProcess()) as primary, _start(PostgresReplica(primary)) as replica:
        yield PostgresReplication(primary, replica)


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """URL of a Redis server: ``STACKKIT_TEST_REDIS_URL``, or a throwaway one.

    The server may be shared with other test runs: keep keys under
    ``redis_key_prefix`` and never ``FLUSHDB``.
    """
    configured = _configured(REDIS_URL_ENV)
    if configured is not None:
        yield configured
        return
    with _start(RedisProcess(), hint=_USE_RUNNING.format(REDIS_URL_ENV)) as server:
        yield server.url


@pytest.fixture(scope="session")
def redis_url(redis_server_url: str) -> str:
    """URL of the Redis server for the app under test (the same as ``redis_server_url``)."""
    return redis_server_url


@pytest.fixture(scope="session")
def redis_key_prefix(redis_server_url: str) -> Iterator[str]:
    """A unique ``stackkit-test:<hex>:`` prefix; every key under it is deleted after the session."""
    prefix = unique_key_prefix()
    yield prefix
    delete_keys(redis_server_url, prefix)


@pytest.fixture
def redis_process() -> Iterator[RedisProcess]:
    """A running throwaway Redis of the test's own, which it may stop and restart; stopped after.

    Never the server of ``STACKKIT_TEST_REDIS_URL``, since the test may stop it.
    """
    with _start(RedisProcess()) as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster_url() -> Iterator[str]:
    """Startup-node URL of a Redis Cluster: ``STACKKIT_TEST_REDIS_CLUSTER_URL``, or a throwaway
    three-node cluster (about two seconds to start), for ``RedisCluster.from_url``.

    The cluster may be shared with other test runs: keep keys under a unique
    prefix and never ``FLUSHALL``.
    """
    configured = _configured(REDIS_CLUSTER_URL_ENV)
    if configured is not None:
        yield configured
        return
    hint = _USE_RUNNING.format(REDIS_CLUSTER_URL_ENV)
    with _start(RedisClusterProcess(), hint=hint) as cluster:
        yield cluster.url


@pytest.fixture(scope="session")
def s3_server_url() -> Iterator[str]:
    """Endpoint URL of an S3-protocol server: ``STACKKIT_TEST_S3_URL`` (credentials from
    ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``), or a throwaway moto server."""
    configured = _configured(S3_URL_ENV)
    if configured is not None:
        yield configured
        return
    with _start(S3Process(), hint=_USE_RUNNING.format(S3_URL_ENV)) as server:
        yield server.url


@pytest.fixture
def s3_bucket(s3_server_url: str) -> Iterator[S3Bucket]:
    """A bucket of the test's own on the S3 server, emptied and deleted after it."""
    throwaway = _configured(S3_URL_ENV) is None
    with temporary_bucket(s3_server_url, test_credentials=throwaway) as bucket:
        yield bucket


def _configured(variable: str) -> str | None:
    return os.environ.get(variable, "").strip() or None


def _start(server: _Server, *, hint: str = "") -> _Server:
    try:
        server.start()
    except ServiceUnavailable as exc:
        skip_or_fail(f"{exc} ({hint})" if hint else str(exc))
    return server
