from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from starlette.testclient import TestClient


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.chdir(tmp_path)  # the embedded SQLite file goes here, not into the repo
    monkeypatch.setenv("STACKKIT_ENV", "test")
    spec = importlib.util.spec_from_file_location("hello_app", Path(__file__).with_name("app.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notes_round_trip(example: ModuleType) -> None:
    with TestClient(example.app) as client:
        created = client.post("/api/notes", json={"title": "first", "body": "hello"})
        assert created.status_code == 201
        note_id = created.json()["id"]
        assert client.get(f"/api/notes/{note_id}").json()["title"] == "first"
        assert [n["id"] for n in client.get("/api/notes", params={"contains": "fir"}).json()] == [
            note_id
        ]
        assert client.delete(f"/api/notes/{note_id}").status_code == 204
        missing = client.get(f"/api/notes/{note_id}")
        assert missing.status_code == 404
        assert missing.json()["detail"] == f"There is no note {note_id}."
        assert client.get("/readyz").json()["checks"] == {"database": "ok"}
