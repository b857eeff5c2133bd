from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The example app, loaded once: its models can be declared only once per process."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("STACKKIT_ENV", "test")
        database = tmp_path_factory.mktemp("notes") / "notes.db"
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
        spec = importlib.util.spec_from_file_location(
            "notes_app", Path(__file__).with_name("app.py")
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)  # SQLAlchemy resolves names here
        spec.loader.exec_module(module)
        yield module


def test_notes_through_every_layer(example: ModuleType) -> None:
    with TestClient(example.app) as client:
        created = client.post("/api/notes", json={"title": "first", "body": "hello"})
        assert created.status_code == 201
        note = created.json()
        url = created.headers["location"]
        assert client.post("/api/notes", json={"title": "Untitled"}).status_code == 409
        client.post("/api/notes", json={"title": "second"})
        listing = client.get("/api/notes", params={"sort": "title", "title__contains": "ir"})
        assert [n["title"] for n in listing.json()["items"]] == ["first"]
        changed = client.patch(url, json={"status": "published"}, headers={"if-match": '"1"'})
        assert changed.json()["status"] == "published"
        stale = client.patch(url, json={"status": "draft"}, headers={"if-match": '"1"'})
        assert stale.status_code == 412
        assert client.patch(url, json={"status": "shouting"}).status_code == 422
        assert client.delete(url, headers={"if-match": changed.headers["etag"]}).status_code == 204
        assert client.get(url).status_code == 404
        assert note["version"] == 1


def test_accounts_sign_in(example: ModuleType) -> None:
    with TestClient(example.app) as client:
        account = {"email": "ada@example.com", "password": "correct horse battery"}
        assert client.post("/api/auth/register", json=account).status_code == 201
        tokens = client.post("/api/auth/login", json=account).json()
        me = client.get(
            "/api/auth/me", headers={"authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.json()["email"] == "ada@example.com"
        assert client.get("/api/auth/me").status_code == 401
