"""What the API reads and writes: one pydantic model per direction and resource."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["todo", "doing", "done"]  # models.STATUSES


class ProjectIn(BaseModel):
    """A new project."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None)
    archived: bool = Field(default=False)


class ProjectPatch(BaseModel):
    """The fields to change; the others stay as they are."""

    name: str = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None)
    archived: bool = Field(default=None)


class ProjectOut(ProjectIn):
    """A project as the API shows it."""

    id: int
    version: int
    created_at: datetime
    updated_at: datetime


class ProjectSummary(BaseModel):
    """How far a project has come: its tasks counted by status, everyone's."""

    project_id: int
    name: str
    archived: bool
    total: int
    by_status: dict[Status, int]


class TaskIn(BaseModel):
    """A new task."""

    title: str = Field(min_length=1, max_length=200)
    notes: str | None = Field(default=None)
    status: Status = Field(default="todo")
    due: date | None = Field(default=None)
    project_id: int = Field(ge=1, le=2_147_483_647)
    assignee_id: int | None = Field(default=None, ge=1, le=2_147_483_647)


class TaskPatch(BaseModel):
    """The fields to change; the others stay as they are."""

    title: str = Field(default=None, min_length=1, max_length=200)
    notes: str | None = Field(default=None)
    status: Status = Field(default=None)
    due: date | None = Field(default=None)
    project_id: int = Field(default=None, ge=1, le=2_147_483_647)
    assignee_id: int | None = Field(default=None, ge=1, le=2_147_483_647)


class TaskOut(TaskIn):
    """A task as the API shows it."""

    id: int
    owner_id: int
    version: int
    created_at: datetime
    updated_at: datetime
