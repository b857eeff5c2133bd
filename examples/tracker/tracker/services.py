"""Business rules: one `Service` per model, the place for checks and side effects.

The rules of the tracker:

- An archived project takes no new tasks: creating a task in it, or moving a
  task into it, is a 409 naming `project_id`.
- A done task stays in its project: moving it is a 409 naming `project_id`
  (reopen it first).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from stackkit.db import (
    ConflictError,
    NotFoundError,
    PreconditionFailedError,
    Service,
    StaleVersion,
)
from stackkit.http import ValidationProblem

from tracker.models import STATUSES, Project, Task
from tracker.repositories import ProjectRepository, TaskRepository


class ProjectService(Service[Project]):
    """The team's projects."""

    repository = ProjectRepository

    async def summary(self, id: int) -> dict[str, Any]:
        """The project's tasks counted by status (every user's), in one read unit.

        Raises:
            NotFoundError: there is no such project.
        """
        async with self.unit(read_only=True) as projects:
            project = await projects.get(id)
            if project is None:
                raise NotFoundError(self.name, id)
            counts = await TaskRepository(projects.session).count_by_status(id)
        by_status = {status: counts.get(status, 0) for status in STATUSES}
        return {
            "project_id": project.id,
            "name": project.name,
            "archived": project.archived,
            "total": sum(by_status.values()),
            "by_status": by_status,
        }


class TaskService(Service[Task]):
    """Tasks, and the rules every change to one keeps (see the module's docstring)."""

    repository = TaskRepository

    async def create(self, values: Mapping[str, Any]) -> Task:
        async with self.unit() as tasks:
            await _open_project(tasks.session, values["project_id"])
            return await tasks.create(values)

    async def update(
        self, id: int, changes: Mapping[str, Any], *, expected_version: int | None = None
    ) -> Task:
        if "project_id" not in changes:  # no rule looks at other changes
            return await super().update(id, changes, expected_version=expected_version)
        try:
            async with self.unit() as tasks:
                task = await tasks.get(id)
                if task is None:
                    raise NotFoundError(self.name, id)
                if expected_version is not None and expected_version != task.version:
                    raise StaleVersion(task.version)
                if changes["project_id"] != task.project_id:
                    if changes.get("status", task.status) == "done":
                        raise ConflictError(
                            f"Task {id} is done: a done task stays in its project. "
                            "Reopen it (todo or doing) to move it.",
                            field="project_id",
                        )
                    await _open_project(tasks.session, changes["project_id"])
                # The rules held for this version of the task: change that version only, so
                # that a change made meanwhile (marking it done) cannot slip past them.
                row = await tasks.update(id, changes, expected_version=task.version)
        except StaleVersion as stale:
            raise PreconditionFailedError(self.name, id, stale.current_version) from None
        if row is None:  # deleted meanwhile
            raise NotFoundError(self.name, id)
        return row


async def _open_project(session: AsyncSession, project_id: int) -> Project:
    """The project a task goes into, held until the unit ends (`get_for_share`).

    Raises:
        ValidationProblem: 422, there is no such project.
        ConflictError: 409, the project is archived.
    """
    project = await ProjectRepository(session).get_for_share(project_id)
    if project is None:
        raise ValidationProblem(
            [
                {
                    "in": "body",
                    "field": "project_id",
                    "type": "not_found",
                    "message": "no projects row with this id",
                }
            ]
        )
    if project.archived:
        raise ConflictError(
            f"Project {project.id} ({project.name}) is archived: it takes no new tasks.",
            field="project_id",
        )
    return project
