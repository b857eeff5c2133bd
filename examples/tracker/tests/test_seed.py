"""`stackkit db seed`: the demo accounts, projects and tasks, any number of times."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from stackkit import Settings
from stackkit.cli import cli as stackkit
from starlette.testclient import TestClient

from tests.conftest import PASSWORD, ROOT
from tracker.seed import ADMIN_EMAIL, MEMBER_EMAIL, PASSWORD_VARIABLE, PROJECTS, TASKS


@pytest.fixture
def seed(client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `stackkit db seed` in the project, on the test's database (migrated by `client`)."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("STACKKIT_ENV", "test")
    monkeypatch.chdir(ROOT)

    def seed() -> Any:
        return CliRunner().invoke(stackkit, ["db", "seed"])

    return seed


def login(client: TestClient, email: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_seed_runs_twice_and_adds_its_rows_once(
    seed: Any, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VARIABLE, PASSWORD)
    for _ in range(2):
        result = seed()
        assert result.exit_code == 0, result.output
        assert "Seeded the database with tracker.seed" in result.output

    admin = login(client, ADMIN_EMAIL)
    projects = client.get("/api/projects?sort=name", headers=admin).json()["items"]
    assert sorted(project["name"] for project in projects) == sorted(p["name"] for p in PROJECTS)
    assert [p["name"] for p in projects if p["archived"]] == ["Office move"]
    tasks = client.get("/api/tasks?limit=100", headers=admin).json()["items"]
    assert len(tasks) == len(TASKS)


def test_seeded_accounts_are_an_admin_and_a_member(
    seed: Any, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VARIABLE, PASSWORD)
    assert seed().exit_code == 0
    admin, member = login(client, ADMIN_EMAIL), login(client, MEMBER_EMAIL)

    assert client.get("/api/auth/me", headers=admin).json()["roles"] == ["admin"]
    assert client.get("/api/auth/me", headers=member).json()["roles"] == []
    assert client.post("/api/projects", json={"name": "New"}, headers=admin).status_code == 201
    assert client.post("/api/projects", json={"name": "Mine"}, headers=member).status_code == 403
    own = [task["title"] for task in client.get("/api/tasks", headers=member).json()["items"]]
    assert sorted(own) == sorted(title for _, title, _, email, _ in TASKS if email == MEMBER_EMAIL)


def test_seed_needs_a_password_only_for_accounts_it_creates(
    seed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_VARIABLE, raising=False)
    result = seed()
    assert result.exit_code == 1
    assert f"Error: set {PASSWORD_VARIABLE} to the password" in result.output

    monkeypatch.setenv(PASSWORD_VARIABLE, PASSWORD)
    assert seed().exit_code == 0
    monkeypatch.delenv(PASSWORD_VARIABLE)
    assert seed().exit_code == 0


def test_seed_refuses_a_weak_password(seed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_VARIABLE, "short")
    result = seed()
    assert result.exit_code == 1
    assert f"Error: {PASSWORD_VARIABLE} is refused:" in result.output
