"""`GET /api/projects/{id}/summary`: a project's tasks counted by status, cached for
`SUMMARY_TTL` seconds; a write to the project clears it at once."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.test_projects import create_project
from tests.test_tasks import create_task
from tracker.controllers import SUMMARY_TTL, project_summary, summaries


def summary(client: TestClient, headers: dict[str, str], project: dict[str, Any]) -> Any:
    response = client.get(f"/api/projects/{project['id']}/summary", headers=headers)
    assert response.status_code == 200, response.text
    return response


def test_summary_counts_every_users_tasks_by_status(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    project = create_project(client, admin, name="Website")
    other = create_project(client, admin)
    for status in ("todo", "todo", "doing"):
        create_task(client, member, project["id"], status=status)
    create_task(client, admin, project["id"], status="done")
    create_task(client, member, other["id"])

    assert summary(client, member, project).json() == {
        "project_id": project["id"],
        "name": "Website",
        "archived": False,
        "total": 4,
        "by_status": {"todo": 2, "doing": 1, "done": 1},
    }


def test_summary_of_an_empty_project_counts_zeros(
    client: TestClient, admin: dict[str, str]
) -> None:
    project = create_project(client, admin)
    body = summary(client, admin, project).json()
    assert (body["total"], body["by_status"]) == (0, {"todo": 0, "doing": 0, "done": 0})


def test_summary_is_cached(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    project = create_project(client, admin)
    create_task(client, member, project["id"])
    first = summary(client, member, project)
    assert first.headers["Cache-Status"] == "stackkit; fwd=miss; stored"

    create_task(client, member, project["id"])  # under /api/tasks: the entry stays
    second = summary(client, member, project)

    assert second.headers["Cache-Status"] == "stackkit; hit"
    assert second.json() == first.json()
    assert second.json()["total"] == 1  # up to SUMMARY_TTL seconds behind the tasks


def test_a_write_to_the_project_clears_its_summary(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    project = create_project(client, admin)
    summary(client, member, project)
    create_task(client, member, project["id"])

    url = f"/api/projects/{project['id']}"
    assert client.patch(url, json={"archived": True}, headers=admin).status_code == 200
    fresh = summary(client, member, project)

    assert fresh.headers["Cache-Status"] == "stackkit; fwd=miss; stored"
    assert (fresh.json()["archived"], fresh.json()["total"]) == (True, 1)


def test_summary_is_cached_for_a_short_time() -> None:
    [spec] = [spec for spec in summaries.specs if spec.handler is project_summary]
    assert spec.cache_ttl == SUMMARY_TTL
    assert 0 < SUMMARY_TTL <= 60


def test_summary_of_a_missing_project_is_404(client: TestClient, member: dict[str, str]) -> None:
    response = client.get("/api/projects/999999/summary", headers=member)
    assert response.status_code == 404
    assert response.json()["detail"] == "There is no project 999999."


def test_summary_needs_a_signed_in_user(client: TestClient, admin: dict[str, str]) -> None:
    project = create_project(client, admin)
    assert client.get(f"/api/projects/{project['id']}/summary").status_code == 401
