"""Tasks: members file them in any open project and see and change their own; admins
see and change every one."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from tests.test_projects import create_project

_serial = itertools.count(1)


def create_task(client: TestClient, headers: dict[str, str], project_id: int, **values: Any) -> Any:
    """A new task of the signed-in user, as the API answers it."""
    body = {"title": f"task {next(_serial)}", "project_id": project_id, **values}
    response = client.post("/api/tasks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def titles(client: TestClient, headers: dict[str, str]) -> list[str]:
    response = client.get("/api/tasks?sort=title", headers=headers)
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"]]


def test_tasks_through_the_api(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    project = create_project(client, admin)
    me = client.get("/api/auth/me", headers=member).json()
    row = create_task(
        client, member, project["id"], notes="Some text.", due="2026-01-02", assignee_id=me["id"]
    )
    assert (row["status"], row["owner_id"], row["assignee_id"]) == ("todo", me["id"], me["id"])
    url = f"/api/tasks/{row['id']}"
    assert client.get(url, headers=member).json() == row
    if_match = {**member, "If-Match": f'"{row["version"]}"'}
    changed = client.patch(url, json={"status": "doing"}, headers=if_match)
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == row["version"] + 1
    stale = client.patch(url, json={"status": "done"}, headers=if_match)
    assert stale.status_code == 412
    assert client.delete(url, headers=member).status_code == 204
    assert client.get(url, headers=member).status_code == 404


def test_tasks_belong_to_their_creator(
    client: TestClient, admin: dict[str, str], sign_in: Callable[..., dict[str, str]]
) -> None:
    ada, bob = sign_in("ada@example.com"), sign_in("bob@example.com")
    project = create_project(client, admin)
    row = create_task(client, ada, project["id"], title="ada's")
    url = f"/api/tasks/{row['id']}"
    assert client.get(url, headers=bob).status_code == 404
    assert client.patch(url, json={"status": "done"}, headers=bob).status_code == 404
    assert client.delete(url, headers=bob).status_code == 404
    assert titles(client, bob) == []
    assert client.get(url, headers=ada).json() == row


def test_admins_see_and_change_every_task(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    project = create_project(client, admin)
    row = create_task(client, member, project["id"], title="member's")
    create_task(client, admin, project["id"], title="admin's")
    assert titles(client, admin) == ["admin's", "member's"]
    changed = client.patch(f"/api/tasks/{row['id']}", json={"status": "done"}, headers=admin)
    assert changed.status_code == 200, changed.text
    assert changed.json()["owner_id"] == row["owner_id"]


def test_a_task_names_a_project_that_exists(client: TestClient, member: dict[str, str]) -> None:
    body = {"title": "lost", "project_id": 999_999}
    response = client.post("/api/tasks", json=body, headers=member)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "project_id"


def test_a_task_has_a_known_status(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    project = create_project(client, admin)
    body = {"title": "odd", "project_id": project["id"], "status": "blocked"}
    response = client.post("/api/tasks", json=body, headers=member)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "status"


def test_tasks_need_a_signed_in_user(client: TestClient) -> None:
    assert client.get("/api/tasks").status_code == 401


def test_tasks_are_described(client: TestClient, member: dict[str, str]) -> None:
    meta = client.get("/api/meta/resources", headers=member).json()
    assert [info["name"] for info in meta] == ["projects", "tasks"]
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/api/tasks", "/api/projects/{id}/summary"} <= set(paths)
