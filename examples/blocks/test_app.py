from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from starlette.testclient import TestClient

from stackkit import load_settings

PROBLEM = "application/problem+json"
DEMO = {"username": "demo", "password": "demo-password"}


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    """The example module, loaded once: its model can be declared only once per process."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("STACKKIT_ENV", "test")
        spec = importlib.util.spec_from_file_location(
            "blocks_app", Path(__file__).with_name("app.py")
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)  # SQLAlchemy resolves names here
        spec.loader.exec_module(module)
        yield module


@pytest.fixture
def client(example: ModuleType, tmp_path: Path) -> Iterator[TestClient]:
    """A fresh app for each test: its own database file, rate limits and cache."""
    settings = load_settings(env="test", database_url=f"sqlite:///{tmp_path / 'blocks.db'}")
    with TestClient(example.build_app(settings)) as client:
        yield client


def sign_in(client: TestClient) -> dict[str, str]:
    answer = client.post("/api/auth/login", json=DEMO)
    assert answer.status_code == 200
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


def test_routes_need_a_token(client: TestClient) -> None:
    missing = client.get("/api/bookmarks")
    assert missing.status_code == 401
    assert missing.headers["content-type"] == PROBLEM
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["request_id"] == missing.headers["x-request-id"]
    forged = client.get("/api/bookmarks", headers={"authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]
    wrong = client.post("/api/auth/login", json={**DEMO, "password": "guess"})
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == PROBLEM


def test_sign_in_create_and_list_by_pages(client: TestClient) -> None:
    headers = sign_in(client)
    for n in range(3):
        created = client.post(
            "/api/bookmarks",
            json={"url": f"https://example.com/{n}", "title": f"page {n}"},
            headers=headers,
        )
        assert created.status_code == 201
    duplicate = {"url": "https://example.com/0", "title": "again"}
    conflict = client.post("/api/bookmarks", json=duplicate, headers=headers)
    assert conflict.status_code == 409
    assert conflict.json()["field"] == "url"

    first = client.get("/api/bookmarks", params={"limit": 2}, headers=headers).json()
    assert [b["title"] for b in first["items"]] == ["page 2", "page 1"]
    params = {"limit": 2, "cursor": first["next_cursor"]}
    second = client.get("/api/bookmarks", params=params, headers=headers).json()
    assert [b["title"] for b in second["items"]] == ["page 0"]
    assert second["next_cursor"] is None

    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/bookmarks", headers=headers).status_code == 401


def test_invalid_input_and_unknown_paths_are_problems(client: TestClient) -> None:
    headers = sign_in(client)
    answer = client.post(
        "/api/bookmarks", json={"url": "ftp://example.com", "title": ""}, headers=headers
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    assert sorted(e["field"] for e in answer.json()["errors"]) == ["title", "url"]
    bad_limit = client.get("/api/bookmarks", params={"limit": 0}, headers=headers)
    assert bad_limit.status_code == 422
    assert bad_limit.json()["errors"][0]["in"] == "query"
    for path in ("/api/nothing-here", "/api/bookmarks/"):
        unknown = client.get(path, headers=headers, follow_redirects=False)
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == PROBLEM


def test_login_is_limited_to_three_a_minute(client: TestClient) -> None:
    remaining = [
        client.post("/api/auth/login", json=DEMO).headers["ratelimit-remaining"] for _ in range(3)
    ]
    assert remaining == ["2", "1", "0"]
    refused = client.post("/api/auth/login", json=DEMO)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM
    assert int(refused.headers["retry-after"]) > 0


def test_list_is_served_from_the_cache_until_a_write(client: TestClient) -> None:
    headers = sign_in(client)
    assert client.get("/api/bookmarks", headers=headers).headers["cache-status"] == (
        "stackkit; fwd=miss; stored"
    )
    cached = client.get("/api/bookmarks", headers=headers)
    assert cached.headers["cache-status"] == "stackkit; hit"
    assert cached.json() == {"items": [], "next_cursor": None}

    bookmark = {"url": "https://example.com", "title": "Example"}
    assert client.post("/api/bookmarks", json=bookmark, headers=headers).status_code == 201
    fresh = client.get("/api/bookmarks", headers=headers)
    assert fresh.headers["cache-status"] == "stackkit; fwd=miss; stored"
    assert [b["title"] for b in fresh.json()["items"]] == ["Example"]
