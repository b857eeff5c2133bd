"""Creating tasks is limited per user (`TASK_CREATION_LIMIT`, 30/minute): a burst of
30, then one every 2 seconds; a refused request creates nothing."""

from __future__ import annotations

import math
import time

from starlette.testclient import TestClient

from tests.test_projects import create_project
from tracker.controllers import TASK_CREATION_LIMIT

BURST = int(TASK_CREATION_LIMIT.split("/")[0])


def test_creating_tasks_is_limited(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    project = create_project(client, admin)
    body = {"title": "one more", "project_id": project["id"]}
    started = time.monotonic()
    statuses = []
    while 429 not in statuses and len(statuses) < 2 * BURST:
        statuses.append(client.post("/api/tasks", json=body, headers=member).status_code)
    elapsed = time.monotonic() - started

    created = statuses.count(201)
    assert statuses == [201] * created + [429]
    # The burst, plus one for each 2 seconds the loop took (GCRA refills as time passes).
    assert BURST <= created <= BURST + math.ceil(elapsed / 2)

    refused = client.post("/api/tasks", json=body, headers=member)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["RateLimit-Remaining"] == "0"

    listed = client.get("/api/tasks?limit=100", headers=member)
    assert listed.status_code == 200  # the other routes keep their own budget
    assert len(listed.json()["items"]) == created


def test_each_user_has_a_budget_of_their_own(
    client: TestClient, admin: dict[str, str], member: dict[str, str]
) -> None:
    project = create_project(client, admin)
    body = {"title": "one more", "project_id": project["id"]}
    for _ in range(BURST + 1):
        client.post("/api/tasks", json=body, headers=member)
    assert client.post("/api/tasks", json=body, headers=member).status_code == 429
    assert client.post("/api/tasks", json=body, headers=admin).status_code == 201
