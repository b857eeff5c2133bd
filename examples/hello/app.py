"""A small stackkit app: an in-memory list of notes behind a validated, documented API.

Run it with `python examples/hello/app.py`, then open http://127.0.0.1:8000/api/notes
and http://127.0.0.1:8000/api/openapi.json.
"""

from __future__ import annotations

import itertools

import uvicorn
from pydantic import BaseModel, Field

from stackkit import Controller, ProblemError, create_app


class NoteIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = ""


class NoteOut(NoteIn):
    id: int


class NotePath(BaseModel):
    note_id: int = Field(ge=1)


class NoteQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    contains: str | None = None


NOTES: dict[int, NoteOut] = {}
NEXT_ID = itertools.count(1)

# Public for now: authentication arrives with stackkit's auth building block.
notes = Controller("/api/notes", tags=["notes"], public=True)


@notes.get("")
async def list_notes(query: NoteQuery) -> list[NoteOut]:
    """List notes, optionally those whose title contains a text."""
    found = [n for n in NOTES.values() if query.contains is None or query.contains in n.title]
    return found[: query.limit]


@notes.post("", status_code=201)
async def create_note(body: NoteIn) -> NoteOut:
    """Add a note."""
    note = NoteOut(id=next(NEXT_ID), **body.model_dump())
    NOTES[note.id] = note
    return note


@notes.get("/{note_id}")
async def get_note(path: NotePath) -> NoteOut:
    """One note."""
    if path.note_id not in NOTES:
        raise ProblemError(404, f"There is no note {path.note_id}.")
    return NOTES[path.note_id]


@notes.delete("/{note_id}")
async def delete_note(path: NotePath) -> None:
    """Remove a note."""
    if NOTES.pop(path.note_id, None) is None:
        raise ProblemError(404, f"There is no note {path.note_id}.")


app = create_app(controllers=[notes], title="Hello notes", version="1.0.0")

if __name__ == "__main__":
    # stackkit logs each request with its id, so uvicorn's own access log is off; the
    # client's address comes from STACKKIT_TRUSTED_PROXIES alone, not from uvicorn.
    uvicorn.run(app, host="127.0.0.1", port=8000, access_log=False, proxy_headers=False)
