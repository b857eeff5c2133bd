"""Tables. `id`, `created_at`, `updated_at` and `version` come from `Model`.

After a change here: `stackkit db revision --autogenerate -m "what changed"`,
then `stackkit db upgrade`.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from stackkit.auth import UserMixin
from stackkit.db import Model, owner_column

__all__ = ["ADMIN", "STATUSES", "Model", "Project", "Task", "User"]

ADMIN = "admin"
"""The role that manages projects and sees every task (`stackkit user create --admin`)."""

STATUSES = ("todo", "doing", "done")
"""A task's statuses, in the order it goes through them."""


class User(UserMixin, Model):
    """Accounts: email, password hash, active flag, roles."""


class Project(Model):
    """The team's projects: every signed-in user reads them, admins change them.

    No `owner_id`: a project belongs to the team, not to the admin who made it, so
    every member sees it and may file tasks in it.
    """

    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class Task(Model):
    """Task rows; each belongs to the user who created it (admins see all)."""

    title: Mapped[str] = mapped_column(String(200), index=True)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(50), index=True, default="todo")
    due: Mapped[date | None] = mapped_column(Date, index=True, default=None)
    project_id: Mapped[int] = mapped_column(
        Integer,
        ForeignKey("projects.id", ondelete="CASCADE"),
        index=True,
    )
    assignee_id: Mapped[int | None] = mapped_column(
        Integer,
        ForeignKey("users.id", ondelete="SET NULL"),
        index=True,
        default=None,
    )
    owner_id: Mapped[int] = owner_column()
