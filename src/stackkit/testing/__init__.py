"""Real PostgreSQL and Redis for tests: throwaway servers, fresh databases, pytest fixtures.

The fixtures live in :mod:`stackkit.testing.plugin`, which pytest loads on its
own; this package exports the building blocks for tests that need more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackkit.lazy import lazy_attributes
from stackkit.testing.files import SAMPLE_PNG, send_file, upload_file
from stackkit.testing.postgres import (
    PostgresProcess,
    PostgresReplica,
    PostgresReplication,
    create_database,
    database_url,
    drop_database,
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
    REQUIRE_SERVICES_ENV,
    S3_URL_ENV,
    ServiceUnavailable,
    find_binary,
    find_free_port,
    services_required,
    skip_or_fail,
    wait_until,
)

if TYPE_CHECKING:
    from stackkit.testing.settings import (
        app_environment,
        clear_settings_environment,
        isolated_settings,
    )

__all__ = [
    "DATABASE_URL_ENV",
    "REDIS_CLUSTER_URL_ENV",
    "REDIS_URL_ENV",
    "REQUIRE_SERVICES_ENV",
    "S3_URL_ENV",
    "SAMPLE_PNG",
    "PostgresProcess",
    "PostgresReplica",
    "PostgresReplication",
    "RedisClusterProcess",
    "RedisProcess",
    "S3Bucket",
    "S3Process",
    "ServerProcess",
    "ServiceUnavailable",
    "app_environment",
    "clear_settings_environment",
    "create_database",
    "database_url",
    "delete_keys",
    "drop_database",
    "find_binary",
    "find_free_port",
    "isolated_settings",
    "send_file",
    "services_required",
    "skip_or_fail",
    "temporary_bucket",
    "temporary_database",
    "unique_key_prefix",
    "upload_file",
    "wait_until",
]


# The settings load pydantic: not with the plugin, which every environment with
# stackkit installed loads.
__getattr__ = lazy_attributes(
    __name__,
    {
        "app_environment": "stackkit.testing.settings",
        "clear_settings_environment": "stackkit.testing.settings",
        "isolated_settings": "stackkit.testing.settings",
    },
)
