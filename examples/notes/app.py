"""A notes API on stackkit's data layer: Model -> Repository -> Service -> Resource.

Run it with `python examples/notes/app.py` (a SQLite file, `stackkit.db`, in the working
directory), then try:

    curl -X POST localhost:8000/api/notes -H 'content-type: application/json' \
        -d '{"title": "first"}'
    curl 'localhost:8000/api/notes?sort=title&title__contains=fir'
    curl localhost:8000/api/meta/resources

Accounts come from stackkit's auth building block (`user_model=User`):

    curl -X POST localhost:8000/api/auth/register -H 'content-type: application/json' \
        -d '{"email": "ada@example.com", "password": "correct horse battery"}'
    curl -X POST localhost:8000/api/auth/login -H 'content-type: application/json' \
        -d '{"email": "ada@example.com", "password": "correct horse battery"}'
    curl localhost:8000/api/auth/me -H 'authorization: Bearer <access_token>'
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import uvicorn
from pydantic import BaseModel, Field
from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column
from starlette.applications import Starlette

from stackkit import Resource, create_app
from stackkit.auth.tables import create_account_tables
from stackkit.auth.user import User
from stackkit.db import ConflictError, Model, Repository, Service


class Note(Model):
    title: Mapped[str] = mapped_column(String(200), index=True)
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)


class NoteRepository(Repository[Note]):
    model = Note
    filterable = ("title", "status", "created_at")
    sortable = ("title", "status", "created_at")


class NoteService(Service[Note]):
    repository = NoteRepository

    async def create(self, values: Mapping[str, Any]) -> Note:
        if values["title"].strip().lower() == "untitled":
            raise ConflictError("Give the note a real title.", field="title")
        return await super().create(values)


class NoteIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = ""


class NotePatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = None
    status: str | None = Field(default=None, pattern="^(draft|published)$")


class NoteOut(NoteIn):
    id: int
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


async def create_tables(app: Starlette) -> None:
    """A demo creates its tables at start-up; a real app runs its migrations instead."""
    async with app.state.database.engine.begin() as connection:
        await connection.run_sync(
            Model.metadata.create_all, tables=[Note.__table__, User.__table__]
        )
    await create_account_tables(app.state.database.engine)  # the audit log


# Public for this demo; without public=True the routes need a signed-in user.
notes = Resource(
    "notes", service=NoteService, create=NoteIn, update=NotePatch, read=NoteOut, public=True
)
app = create_app(
    resources=[notes], user_model=User, startup=[create_tables], title="Notes", version="1.0.0"
)

if __name__ == "__main__":
    # The client's address comes from STACKKIT_TRUSTED_PROXIES alone, not uvicorn's
    # reading of X-Forwarded-For; stackkit logs each request itself.
    uvicorn.run(app, host="127.0.0.1", port=8000, access_log=False, proxy_headers=False)
