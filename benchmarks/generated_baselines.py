"""The apps `generated_app.py` sets a generated project beside, served by uvicorn
(`serve("generated_baselines:<factory>", ...)`):

- `bare`: bare Starlette answering the bytes in `BENCH_BODY_FILE` on one route;
- `core`: a hand-written Starlette + SQLAlchemy Core handler running the query the
  generated list runs (the user's notes, newest first, one more than the page to
  know whether another follows) on `BENCH_DATABASE_URL`, and answering the same
  JSON shape, for the user `BENCH_OWNER_ID`.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic_core import to_json
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, select
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PATH = "/api/notes"
PAGE = 50

notes = Table(
    "notes",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("title", String(200)),
    Column("body", Text),
    Column("owner_id", Integer),
    Column("version", Integer),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)
COLUMNS = ("title", "body", "id", "owner_id", "version", "created_at", "updated_at")


def bare() -> Starlette:
    body = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()

    async def listing(_: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route(PATH, listing)])


def bare_headers() -> Starlette:
    """`bare`, with the headers the generated app answers a cached GET with (what the
    server spends on them is the same for both)."""
    body = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
    pairs = json.loads(Path(os.environ["BENCH_HEADERS_FILE"]).read_text())
    headers = {name: value for name, value in pairs if name.lower() != "content-type"}

    async def listing(_: Request) -> Response:
        return Response(body, media_type="application/json", headers=headers)

    return Starlette(routes=[Route(PATH, listing)])


def core() -> Starlette:
    engine = create_async_engine(os.environ["BENCH_DATABASE_URL"], pool_size=10)
    owner = int(os.environ["BENCH_OWNER_ID"])
    query = (
        select(*(notes.c[name] for name in COLUMNS))
        .where(notes.c.owner_id == owner)
        .order_by(notes.c.created_at.desc(), notes.c.id.desc())
        .limit(PAGE + 1)
    )

    async def listing(_: Request) -> Response:
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        items = [dict(row) for row in rows[:PAGE]]
        more = len(rows) > PAGE
        body = to_json({"items": items, "next_cursor": "more" if more else None})
        return Response(body, media_type="application/json")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    return Starlette(routes=[Route(PATH, listing)], lifespan=lifespan)
