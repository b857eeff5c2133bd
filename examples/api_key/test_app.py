from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from starlette.testclient import TestClient

HERE = Path(__file__).parent


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.chdir(tmp_path)  # the embedded SQLite file goes here, not into the repo
    monkeypatch.setenv("STACKKIT_ENV", "test")
    monkeypatch.syspath_prepend(str(HERE))  # app.py imports backend.py beside it
    spec = importlib.util.spec_from_file_location("api_key_app", HERE / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("headers", "status", "answer"),
    [
        ({"X-Api-Key": "reporter-key"}, 200, {"id": "reporter", "roles": ["reports"]}),
        ({"X-Api-Key": "reader-key"}, 200, {"id": "reader", "roles": []}),
        ({"X-Api-Key": "guessed"}, 401, "This API key is not known."),
        ({"X-Api-Key": ""}, 401, "This API key is not known."),
        ({}, 401, "This route needs authentication."),
        ({"Authorization": "Bearer forged"}, 401, None),
    ],
    ids=["reporter", "reader", "unknown-key", "empty-key", "no-credentials", "bad-bearer"],
)
def test_a_service_account_signs_in_with_its_key(
    example: ModuleType, headers: dict[str, str], status: int, answer: object
) -> None:
    with TestClient(example.app) as client:
        response = client.get("/api/reports/whoami", headers=headers)
    assert response.status_code == status
    if status == 200:
        assert response.json() == answer
    else:
        assert response.headers["content-type"] == "application/problem+json"
        if answer is not None:
            assert response.json()["detail"] == answer


def test_a_route_that_asks_a_role_takes_only_the_accounts_holding_it(example: ModuleType) -> None:
    with TestClient(example.app) as client:
        allowed = client.post("/api/reports/rebuild", headers={"X-Api-Key": "reporter-key"})
        refused = client.post("/api/reports/rebuild", headers={"X-Api-Key": "reader-key"})
    assert (allowed.status_code, allowed.json()) == (202, {"queued_by": "reporter"})
    assert refused.status_code == 403


def test_the_backend_is_short() -> None:
    """A way in is one small class: the example stays under 40 lines."""
    assert len((HERE / "backend.py").read_text().splitlines()) < 40
