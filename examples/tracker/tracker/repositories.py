"""Queries: one `Repository` per model, with the fields it filters and sorts on."""

from __future__ import annotations

from sqlalchemy import func, select
from stackkit.db import Repository

from tracker.models import Project, Task


class ProjectRepository(Repository[Project]):
    model = Project
    filterable = ("name", "archived", "created_at")
    sortable = ("name", "created_at")

    async def get_for_share(self, id: int) -> Project | None:
        """The project, kept from changing until the unit of work ends.

        On PostgreSQL `SELECT ... FOR SHARE`: archiving it waits for this unit, so a
        task cannot land in a project archived between the check and the insert.
        SQLite has no row locks, and needs none: its write units run one at a time.
        """
        query = select(Project).where(Project.id == id, *self.scope).with_for_update(read=True)
        return await self.session.scalar(query)


class TaskRepository(Repository[Task]):
    model = Task
    filterable = ("title", "status", "due", "project_id", "assignee_id", "created_at")
    sortable = ("title", "status", "due", "project_id", "assignee_id", "created_at")

    async def count_by_status(self, project_id: int) -> dict[str, int]:
        """The project's tasks (those in this repository's scope) counted by status;
        a status no task has is left out."""
        query = (
            select(Task.status, func.count())
            .where(Task.project_id == project_id, *self.scope)
            .group_by(Task.status)
        )
        rows = await self.session.execute(query)
        return dict(rows.all())
