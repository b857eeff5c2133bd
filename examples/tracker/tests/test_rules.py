"""The business rules of `TaskService`: an archived project takes no new tasks, and a
done task stays in its project. Each is a 409 naming `project_id`."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.test_projects import create_project
from tests.test_tasks import create_task, titles


def archive(client: TestClient, admin: dict[str, str], project: dict[str, Any]) -> None:
    url = f"/api/projects/{project['id']}"
    response = client.patch(url, json={"archived": True}, headers=admin)
    assert response.status_code == 200, response.text


def move(
    client: TestClient, headers: dict[str, str], task: dict[str, Any], project_id: int, **more: Any
) -> Any:
    body = {"project_id": project_id, **more}
    return client.patch(f"/api/tasks/{task['id']}", json=body, headers=headers)


@pytest.mark.parametrize("who", ["member", "admin"])
def test_an_archived_project_takes_no_new_tasks(
    client: TestClient, admin: dict[str, str], member: dict[str, str], who: str
) -> None:
    project = create_project(client, admin, name="Office move")
    archive(client, admin, project)
    headers = member if who == "member" else admin

    response = client.post(
        "/api/tasks", json={"title": "late", "project_id": project["id"]}, headers=headers
    )

    assert response.status_code == 409
    problem = response.json()
    assert problem["field"] == "project_id"
    assert problem["detail"] == (
        f"Project {project['id']} (Office move) is archived: it takes no new tasks."
    )
    assert titles(client, admin) == []


def test_a_task_cannot_move_into_an_archived_project(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    here, archived = create_project(client, admin), create_project(client, admin)
    task = create_task(client, member, here["id"])
    archive(client, admin, archived)

    response = move(client, member, task, archived["id"])

    assert response.status_code == 409
    assert "is archived" in response.json()["detail"]
    assert client.get(f"/api/tasks/{task['id']}", headers=member).json() == task


def test_tasks_of_an_archived_project_can_still_be_finished(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    project = create_project(client, admin)
    task = create_task(client, member, project["id"])
    archive(client, admin, project)
    url = f"/api/tasks/{task['id']}"
    assert client.patch(url, json={"status": "done"}, headers=member).status_code == 200


def test_an_open_task_moves_to_another_project(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    here, there = create_project(client, admin), create_project(client, admin)
    task = create_task(client, member, here["id"], status="doing")

    response = move(client, member, task, there["id"])

    assert response.status_code == 200, response.text
    assert (response.json()["project_id"], response.json()["version"]) == (there["id"], 2)


@pytest.mark.parametrize(
    ("status", "more"),
    [("done", {}), ("doing", {"status": "done"})],
    ids=["done-already", "marked-done-in-the-same-change"],
)
def test_a_done_task_stays_in_its_project(
    client: TestClient,
    admin: dict[str, str],
    member: dict[str, str],
    status: str,
    more: dict[str, Any],
) -> None:
    here, there = create_project(client, admin), create_project(client, admin)
    task = create_task(client, member, here["id"], status=status)

    response = move(client, member, task, there["id"], **more)

    assert response.status_code == 409
    problem = response.json()
    assert problem["field"] == "project_id"
    assert problem["detail"].startswith(f"Task {task['id']} is done: a done task stays")
    assert client.get(f"/api/tasks/{task['id']}", headers=member).json() == task


def test_a_reopened_task_moves(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    here, there = create_project(client, admin), create_project(client, admin)
    task = create_task(client, member, here["id"], status="done")

    response = move(client, member, task, there["id"], status="todo")

    assert response.status_code == 200, response.text
    assert (response.json()["project_id"], response.json()["status"]) == (there["id"], "todo")


def test_a_done_task_may_stay_where_it_is(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    """Sending the project it is in already (a form sends every field) moves nothing."""
    project = create_project(client, admin)
    task = create_task(client, member, project["id"], status="done")
    response = move(client, member, task, project["id"], title="Renamed")
    assert response.status_code == 200, response.text


def test_a_move_with_a_stale_if_match_is_412(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    here, there = create_project(client, admin), create_project(client, admin)
    task = create_task(client, member, here["id"])
    url = f"/api/tasks/{task['id']}"
    assert client.patch(url, json={"notes": "first"}, headers=member).status_code == 200

    stale = {**member, "If-Match": f'"{task["version"]}"'}
    response = client.patch(url, json={"project_id": there["id"]}, headers=stale)

    assert response.status_code == 412
    assert response.json()["current_version"] == task["version"] + 1


def test_moving_another_users_task_is_404(
    client: TestClient, admin: dict[str, str], member: dict[str, str], sign_in: Any
) -> None:
    here, there = create_project(client, admin), create_project(client, admin)
    task = create_task(client, member, here["id"])
    bob = sign_in("bob@example.com")
    assert move(client, bob, task, there["id"]).status_code == 404
