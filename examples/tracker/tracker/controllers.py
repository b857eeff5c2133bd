"""HTTP: the resources (CRUD under `/api/<name>`) and any controllers of your own."""

from __future__ import annotations

from pydantic import BaseModel, Field
from stackkit import Controller
from stackkit.resources import Resource
from starlette.requests import Request

from tracker.models import ADMIN
from tracker.schemas import (
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    ProjectSummary,
    TaskIn,
    TaskOut,
    TaskPatch,
)
from tracker.services import ProjectService, TaskService

SUMMARY_TTL = 30
"""Seconds the response cache keeps a project's summary. A change to the project
itself (any write under `/api/projects`) shows at once; a change to its tasks (under
`/api/tasks`, another namespace of the cache) shows within this time."""

TASK_CREATION_LIMIT = "30/minute"
"""Tasks one user may create: a burst of 30, then one every 2 seconds."""

resources: list[Resource] = []
controllers: list[Controller] = []


# Every signed-in user lists and reads projects; only admins create, rename, archive
# and delete them (403 for the others).
projects = Resource(
    "projects",
    service=ProjectService,
    create=ProjectIn,
    update=ProjectPatch,
    read=ProjectOut,
    write_roles=[ADMIN],
)
resources.append(projects)


# Tasks are owned (`owner_id`): members see and change their own, admins every one.
tasks = Resource(
    "tasks",
    service=TaskService,
    create=TaskIn,
    update=TaskPatch,
    read=TaskOut,
    admin_role=ADMIN,
    rate_limit={"create": TASK_CREATION_LIMIT},
)
resources.append(tasks)


class ProjectPath(BaseModel):
    id: int = Field(ge=1, description="The project's id.")


summaries = Controller("/api/projects", tags=["projects"])
controllers.append(summaries)


@summaries.get("/{id}/summary", cache_ttl=SUMMARY_TTL)
async def project_summary(request: Request, path: ProjectPath) -> ProjectSummary:
    """How far a project has come: its tasks, everyone's, counted by status.

    Cached for `SUMMARY_TTL` seconds per user; writes to the project clear it at once.
    """
    service = ProjectService(request.app.state.database)
    return ProjectSummary.model_validate(await service.summary(path.id))
