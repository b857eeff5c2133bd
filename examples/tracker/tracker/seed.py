"""Data for a fresh database: `stackkit db seed` runs `seed()`.

It adds an admin and a member, three projects (one archived) and a few tasks,
skipping whatever exists already, so it may run any number of times. The two
accounts get the password in `TRACKER_SEED_PASSWORD`, which is needed only
while one of them is still missing: no password is written in the code.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

import click
from stackkit.auth import UserService
from stackkit.db import Database
from stackkit.http import ValidationProblem

from tracker.models import ADMIN, User
from tracker.repositories import ProjectRepository, TaskRepository

PASSWORD_VARIABLE = "TRACKER_SEED_PASSWORD"
ADMIN_EMAIL = "admin@example.com"
MEMBER_EMAIL = "member@example.com"

PROJECTS: list[dict[str, Any]] = [
    {"name": "Website relaunch", "description": "New pages, new look, same address."},
    {"name": "Mobile app", "description": "The tracker in your pocket."},
    {"name": "Office move", "description": "Done: everyone is in.", "archived": True},
]

# project, title, status, whose task (and assignee), due in days (None: no date)
TASKS = [
    ("Website relaunch", "Write the landing page copy", "doing", MEMBER_EMAIL, 3),
    ("Website relaunch", "Pick the photos", "todo", MEMBER_EMAIL, 10),
    ("Website relaunch", "Move the domain's DNS", "todo", ADMIN_EMAIL, 14),
    ("Website relaunch", "Agree on the colours", "done", ADMIN_EMAIL, None),
    ("Mobile app", "Sketch the sign-in screen", "todo", MEMBER_EMAIL, 21),
    ("Mobile app", "Choose a push notification service", "doing", ADMIN_EMAIL, None),
    ("Office move", "Book the movers", "done", ADMIN_EMAIL, None),
]


async def seed(db: Database) -> None:
    """Add the rows a new install needs (it may run more than once: check first)."""
    users = UserService.for_model(User)(db)
    owners = {
        ADMIN_EMAIL: await _user(users, ADMIN_EMAIL, roles=[ADMIN]),
        MEMBER_EMAIL: await _user(users, MEMBER_EMAIL, roles=[]),
    }
    async with db.session() as session:
        projects, tasks = ProjectRepository(session), TaskRepository(session)
        ids: dict[str, int] = {}
        for values in PROJECTS:
            found = await projects.list({"name": values["name"]}, limit=1)
            ids[values["name"]] = (found or [await projects.create(values)])[0].id
        for project, title, status, email, due_in in TASKS:
            if await tasks.exists({"project_id": ids[project], "title": title}):
                continue
            await tasks.create(
                {
                    "project_id": ids[project],
                    "title": title,
                    "status": status,
                    "due": None if due_in is None else date.today() + timedelta(days=due_in),
                    "owner_id": owners[email],
                    "assignee_id": owners[email],
                }
            )


async def _user(users: UserService[Any], email: str, *, roles: list[str]) -> int:
    """The id of the user with `email`, registered first if there is none."""
    user = await users.get_by_email(email)
    if user is None:
        password = os.environ.get(PASSWORD_VARIABLE)
        if not password:
            raise click.ClickException(
                f"set {PASSWORD_VARIABLE} to the password of the seeded users "
                f"({ADMIN_EMAIL}, {MEMBER_EMAIL})"
            )
        try:
            user = await users.register(email, password, roles=roles)
        except ValidationProblem as problem:
            reasons = " ".join(error["message"] for error in problem.extensions["errors"])
            raise click.ClickException(f"{PASSWORD_VARIABLE} is refused: {reasons}") from None
    return int(user.id)
