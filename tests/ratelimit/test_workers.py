"""The default rate limit across real uvicorn processes that count in one Redis."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from stackkit.testing import ServerProcess, delete_keys, unique_key_prefix

REPO_ROOT = Path(__file__).resolve().parents[2]
LIMIT = 50
REQUESTS = 200
# Per hour, not per minute: the budget is the same burst of 50, but at 50/minute one
# more request is due 1.2 s after the first, which a slow machine's burst can outlast.
RATE = f"{LIMIT}/hour"


class UvicornProcess(ServerProcess):
    """`tests.ratelimit.worker_app` served by uvicorn on 127.0.0.1, configured by `env` alone."""

    name = "uvicorn"
    startup_timeout = 15.0

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__()
        self.env = env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def locate(cls) -> None:
        pass  # uvicorn is a dependency of the test suite, run by this interpreter

    def _prepare(self, directory: Path) -> None:
        pass

    def _command(self, directory: Path, port: int) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", "tests.ratelimit.worker_app:app", "--factory"),
            *("--host", "127.0.0.1", "--port", str(port)),
            *("--no-access-log", "--log-level", "warning"),
            "--no-proxy-headers",  # as `stackkit run`: STACKKIT_TRUSTED_PROXIES decides
        ]

    def _popen_options(self) -> dict[str, Any]:
        # Only these variables, and the cwd is the server's own folder (no `.env`): the
        # settings of the shell running the tests must not leak into the app.
        return {"env": self.env}

    def _answers(self) -> bool:
        try:
            response = httpx2.get(f"{self.url}/healthz", timeout=1, trust_env=False)
        except httpx2.TransportError:
            return False
        return response.status_code == 200


async def fire(urls: list[str]) -> list[tuple[str, httpx2.Response]]:
    """`REQUESTS` concurrent GETs, spread evenly over `urls`, each on its own connection."""
    targets = [urls[n % len(urls)] for n in range(REQUESTS)]
    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx2.AsyncClient(limits=limits, timeout=10, trust_env=False) as client:
        # Open every connection first, on the unlimited /healthz: else the server whose
        # handshakes happen to finish first may spend the whole budget on its own.
        await asyncio.gather(*(client.get(f"{url}/healthz") for url in targets))
        responses = await asyncio.gather(*(client.get(f"{url}/api/ping") for url in targets))
    return list(zip(targets, responses, strict=True))


@pytest.fixture(scope="module")
def worker_prefix(redis_url: str) -> Iterator[str]:
    """The workers' `STACKKIT_CACHE_PREFIX`; every key under it is deleted at the end."""
    prefix = unique_key_prefix()
    yield prefix
    delete_keys(redis_url, prefix)


@pytest.fixture(scope="module")
def workers(
    redis_url: str, worker_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[UvicornProcess]]:
    """Two uvicorn processes of one app, counting in one Redis; stopped after the module."""
    env = {
        "PYTHONPATH": str(REPO_ROOT),
        "STACKKIT_ENV": "test",
        "SECRET_KEY": "test-secret-key-for-the-worker-processes-0123456789",
        "REDIS_URL": redis_url,
        "STACKKIT_CACHE_PREFIX": worker_prefix,
        "STACKKIT_RATE_LIMIT": RATE,
        "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('workers') / 'x.db'}",
        "STACKKIT_ACCESS_LOG": "false",
    }
    with contextlib.ExitStack() as servers:
        yield [servers.enter_context(UvicornProcess(env)) for _ in range(2)]


@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-processes"])
async def test_200_concurrent_requests_against_50_let_exactly_50_through(
    processes: int, workers: list[UvicornProcess], worker_prefix: str, redis_url: str
) -> None:
    servers = workers[:processes]
    try:
        responses = await fire([server.url for server in servers])
    finally:
        delete_keys(redis_url, worker_prefix)  # the counters live in Redis alone: a full budget

    statuses = Counter(response.status_code for _, response in responses)
    assert statuses == {200: LIMIT, 429: REQUESTS - LIMIT}
    allowed = [response for _, response in responses if response.status_code == 200]
    # Each allowed request saw the budget one smaller: none was counted twice or lost.
    assert sorted(int(r.headers["ratelimit-remaining"]) for r in allowed) == list(range(LIMIT))
    for refused in (response for _, response in responses if response.status_code == 429):
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["status"] == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 72  # one interval: 3600 s / 50
    # Each process answered half the requests, and 50 went through in all, not 50 each:
    # they counted against the one budget. Which process let them through depends on which
    # got the CPU first (under load, one may take them all), so that is not asserted.
