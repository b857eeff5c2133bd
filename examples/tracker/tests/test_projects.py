"""Projects: every signed-in user reads them; only admins create, rename, archive and
delete them."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from starlette.testclient import TestClient

from tracker.repositories import ProjectRepository, TaskRepository

_serial = itertools.count(1)


def create_project(client: TestClient, headers: dict[str, str], **values: Any) -> Any:
    """A new project (the caller must be an admin), as the API answers it."""
    body = {"name": f"project {next(_serial)}", "description": "Some text.", **values}
    response = client.post("/api/projects", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_projects_through_the_api(client: TestClient, admin: dict[str, str]) -> None:
    row = create_project(client, admin)
    assert row["archived"] is False
    url = f"/api/projects/{row['id']}"
    assert client.get(url, headers=admin).json() == row
    listed = client.get("/api/projects", headers=admin).json()["items"]
    assert [item["id"] for item in listed] == [row["id"]]
    if_match = {**admin, "If-Match": f'"{row["version"]}"'}
    changed = client.patch(url, json={"name": f"changed {next(_serial)}"}, headers=if_match)
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == row["version"] + 1
    stale = client.patch(url, json={}, headers=if_match)
    assert stale.status_code == 412
    assert client.delete(url, headers=admin).status_code == 204
    assert client.get(url, headers=admin).status_code == 404


def test_members_read_every_project(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    row = create_project(client, admin)
    assert client.get(f"/api/projects/{row['id']}", headers=member).json() == row
    listed = client.get("/api/projects", headers=member).json()["items"]
    assert [item["id"] for item in listed] == [row["id"]]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "", {"name": "mine"}),
        ("PATCH", "/{id}", {"name": "renamed"}),
        ("PATCH", "/{id}", {"archived": True}),
        ("DELETE", "/{id}", None),
    ],
    ids=["create", "rename", "archive", "delete"],
)
def test_only_admins_change_projects(
    client: TestClient,
    admin: dict[str, str],
    member: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    row = create_project(client, admin)
    url = "/api/projects" + path.format(id=row["id"])

    response = client.request(method, url, json=body, headers=member)

    assert response.status_code == 403
    assert response.json()["detail"] == "This route needs the role admin."
    assert client.get("/api/projects", headers=admin).json()["items"] == [row]


def test_project_names_are_unique(client: TestClient, admin: dict[str, str]) -> None:
    create_project(client, admin, name="Website")
    response = client.post("/api/projects", json={"name": "Website"}, headers=admin)
    assert response.status_code == 409
    assert response.json()["field"] == "name"


def test_projects_filter_on_archived(client: TestClient, admin: dict[str, str]) -> None:
    open_project = create_project(client, admin)
    create_project(client, admin, archived=True)
    listed = client.get("/api/projects?archived=false", headers=admin).json()["items"]
    assert [item["id"] for item in listed] == [open_project["id"]]


def test_meta_tells_members_they_only_read_projects(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    def permissions(headers: dict[str, str]) -> dict[str, Any]:
        infos = client.get("/api/meta/resources", headers=headers).json()
        return {info["name"]: info["permissions"] for info in infos}

    everything = dict.fromkeys(("list", "create", "read", "update", "delete"), True)
    assert permissions(admin) == {"projects": everything, "tasks": everything}
    reads_only = {**everything, "create": False, "update": False, "delete": False}
    assert permissions(member) == {"projects": reads_only, "tasks": everything}


def test_projects_need_a_signed_in_user(client: TestClient) -> None:
    assert client.get("/api/projects").status_code == 401


def test_lists_filter_and_sort_on_indexed_columns_only() -> None:
    assert ProjectRepository.unindexed_fields() == []
    assert TaskRepository.unindexed_fields() == []
