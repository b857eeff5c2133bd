"""Shared machinery of test servers: finding, starting and polling them, skipping without them."""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "DATABASE_URL_ENV",
    "REDIS_CLUSTER_URL_ENV",
    "REDIS_URL_ENV",
    "REQUIRE_SERVICES_ENV",
    "S3_URL_ENV",
    "ServiceUnavailable",
    "find_binary",
    "find_free_port",
    "services_required",
    "skip_or_fail",
    "wait_until",
]

#: URL of a running PostgreSQL server for tests to use instead of a throwaway one.
DATABASE_URL_ENV = "STACKKIT_TEST_DATABASE_URL"
#: URL of a running Redis server for tests to use instead of a throwaway one.
REDIS_URL_ENV = "STACKKIT_TEST_REDIS_URL"
#: Startup-node URL of a running Redis Cluster for tests to use instead of a throwaway one.
REDIS_CLUSTER_URL_ENV = "STACKKIT_TEST_REDIS_CLUSTER_URL"
#: Endpoint URL of a running S3-protocol server for tests to use instead of a throwaway one.
S3_URL_ENV = "STACKKIT_TEST_S3_URL"
#: When true, tests fail instead of skipping if a server is unavailable.
REQUIRE_SERVICES_ENV = "STACKKIT_REQUIRE_SERVICES"

_TRUTHY = frozenset({"1", "true", "yes", "on"})


class ServiceUnavailable(Exception):
    """A test server could not be found or started; the message says why."""


def services_required() -> bool:
    """Whether missing services must fail tests instead of skipping them.

    True when the ``STACKKIT_REQUIRE_SERVICES`` environment variable is ``1``
    (or ``true``, ``yes``, ``on``), as CI should set it so that a broken
    setup cannot pass as a run of skipped tests.
    """
    return os.environ.get(REQUIRE_SERVICES_ENV, "").strip().lower() in _TRUTHY


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the current test, or fail it when services are required.

    Raises:
        pytest.fail.Exception: when :func:`services_required` is true.
        pytest.skip.Exception: otherwise.
    """
    if services_required():
        pytest.fail(f"{reason} ({REQUIRE_SERVICES_ENV} is set)", pytrace=False)
    pytest.skip(reason)


def find_free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    Another process may take it before the caller binds it, which is why
    :class:`ServerProcess` retries with a new port when its server exits early.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_binary(name: str, *, extra_dirs: Sequence[Path] = ()) -> str:
    """Return the path of executable ``name``, looked up on PATH, then in ``extra_dirs``.

    Raises:
        ServiceUnavailable: when it is found nowhere.
    """
    found = shutil.which(name)
    for directory in extra_dirs:
        if found is not None:
            break
        found = shutil.which(name, path=str(directory))
    if found is None:
        raise ServiceUnavailable(f"{name} not found on PATH")
    return found


def wait_until(condition: Callable[[], bool], *, timeout: float, description: str) -> None:
    """Call ``condition`` until it returns true, for at most ``timeout`` seconds.

    The pause between calls starts at 10 ms and grows to 100 ms, so a fast
    server is seen at once and a slow one is not hammered. Exceptions raised
    by ``condition`` propagate, which lets it abort the wait early.

    Raises:
        ServiceUnavailable: when the deadline passes first.
    """
    deadline = time.monotonic() + timeout
    pause = 0.01
    while not condition():
        if time.monotonic() >= deadline:
            raise ServiceUnavailable(f"{description} within {timeout:g} s")
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
