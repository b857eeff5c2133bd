from __future__ import annotations

from collections.abc import Callable
from typing import Any

from httpx2 import Response
from starlette.testclient import TestClient

from stackkit.cache import RedisStore
from stackkit.db import Database
from stackkit.testing import RedisProcess, wait_until
from tests.conftest import STORE_TIMEOUT


def poll_status(client: TestClient, path: str, expected: int) -> dict[str, Any]:
    """GET `path` until it answers `expected` (10 s at most); return that body."""
    responses: list[Response] = []

    def answers_expected() -> bool:
        responses.append(client.get(path))
        return responses[-1].status_code == expected

    wait_until(answers_expected, timeout=10, description=f"{path} did not answer {expected}")
    return responses[-1].json()  # type: ignore[no-any-return]


def test_healthz_is_public_and_ok(make_client: Callable[..., TestClient]) -> None:
    response = make_client(backends=[]).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_embedded_database(make_client: Callable[..., TestClient]) -> None:
    response = make_client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_readyz_checks_postgresql(
    make_client: Callable[..., TestClient], postgres_url: str
) -> None:
    client = make_client(backends=[Database(postgres_url)])
    assert client.get("/readyz").json() == {"status": "ok", "checks": {"database": "ok"}}


def test_readyz_is_503_when_the_database_is_unreachable(
    make_client: Callable[..., TestClient],
) -> None:
    unreachable = Database("postgresql://postgres@127.0.0.1:1/none", connect_timeout=1)
    response = make_client(backends=[unreachable]).get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["checks"]["database"].startswith("unavailable")


def test_readyz_follows_redis_going_down_and_coming_back(
    make_client: Callable[..., TestClient], redis_process: RedisProcess
) -> None:
    client = make_client(
        backends=[
            Database("sqlite:///:memory:"),
            RedisStore(redis_process.url, timeout=STORE_TIMEOUT),
        ]
    )
    assert poll_status(client, "/readyz", 200)["checks"] == {"database": "ok", "redis": "ok"}

    redis_process.stop()
    problem = poll_status(client, "/readyz", 503)
    assert problem["detail"] == "Not ready: redis did not answer."
    assert problem["checks"]["database"] == "ok"
    assert problem["checks"]["redis"].startswith("unavailable")

    redis_process.start()
    assert poll_status(client, "/readyz", 200)["checks"] == {"database": "ok", "redis": "ok"}


def test_production_readyz_does_not_name_the_error(
    make_client: Callable[..., TestClient], make_settings: Callable[..., object]
) -> None:
    settings = make_settings(
        env="production", secret_key="q8Vw2-LmZr7xKp4TnYb9HcJd6FgUe3Ns5AoWi1Rt"
    )
    unreachable = RedisStore("redis://127.0.0.1:1/0", timeout=0.5)
    response = make_client(settings, backends=[unreachable]).get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"redis": "unavailable"}
