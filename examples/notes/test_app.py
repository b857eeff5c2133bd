from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from starlette.testclient import TestClient


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("STACKKIT_ENV", "test")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'notes.db'}")
    spec = importlib.util.spec_from_file_location("notes_app", Path(__file__).with_name("app.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # SQLAlchemy resolves annotations here
    spec.loader.exec_module(module)
    return module


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
