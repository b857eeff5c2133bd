"""A resource's CSV export in bounded memory: 100,000 rows against 10,000.

Generates a project (`note title:str body:text`, see `generated_project.py`), signs
a user in, writes the rows straight into its table, and calls the app in this
process (as `request_path.py` does) with `GET /api/notes/export.csv`, its body
counted and dropped as it arrives. `tracemalloc` gives the peak of Python's memory
during each export, above what was held before it. Goal: the export of 100,000
rows peaks at most 1.5x the export of 10,000 (its memory does not grow with the
rows); the time per 1,000 rows is printed beside it.

    python benchmarks/csv_export.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Without the URL, the embedded default (SQLite) only.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import uvloop
from generated_project import Project, make_project
from harness import Row
from request_path import RATE_LIMIT, Loaded, in_own_process, request_scope
from sqlalchemy import delete, insert

from stackkit.db import Model

SIZES = (10_000, 100_000)
GOAL = 1.5
_BATCH = 5_000


async def _export(app: Any, token: str) -> tuple[int, int, float]:
    """Lines and bytes of one export, and its seconds."""
    lines = size = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal lines, size
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise SystemExit(f"export answered {message['status']}")
        if message["type"] == "http.response.body":
            body = message.get("body", b"")
            lines += body.count(b"\n")
            size += len(body)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = request_scope("GET", "/api/notes/export.csv", token)
    started = time.perf_counter()
    await app(dict(scope, state={}), receive, send)
    return lines, size, time.perf_counter() - started


async def _figures(project: Project, _: int) -> dict[int, dict[str, float]]:
    async with Loaded(project) as loaded:
        token = await loaded.sign_in_with_notes()
        database = loaded.app.state.database
        notes = Model.metadata.tables["notes"]
        now = datetime.now(UTC)
        figures: dict[int, dict[str, float]] = {}
        for count in SIZES:
            async with database.session() as session:
                await session.execute(delete(notes))
            for start in range(0, count, _BATCH):
                rows = [
                    {
                        "title": f"note {number}",
                        "body": f'the body of note {number}, with a comma, and a "quote"',
                        "owner_id": 1,
                        "version": 1,
                        # Apart, as rows written one by one are (the list's keyset
                        # pages go by created_at, then id).
                        "created_at": now - timedelta(milliseconds=number),
                        "updated_at": now,
                    }
                    for number in range(start, min(start + _BATCH, count))
                ]
                async with database.session() as session:
                    await session.execute(insert(notes), rows)
            await _export(loaded.app, token)  # warm: the first export loads what stays
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            lines, size, seconds = await _export(loaded.app, token)
            peak = tracemalloc.get_traced_memory()[1] - before
            tracemalloc.stop()
            if lines != count + 1:
                raise SystemExit(f"{count} rows exported as {lines} lines")
            figures[count] = {"peak": peak, "bytes": size, "seconds": seconds}
        return figures


def _measure_in_child(project: Project, n: int) -> dict[int, dict[str, float]]:
    return uvloop.run(_figures(project, n))


def measure(*, database_url: str | None = None) -> list[Row]:
    setups = [("embedded", None)]
    if database_url:
        setups.append(("PostgreSQL", database_url))
    rows, lines = [], []
    for label, postgres in setups:
        project = make_project(postgres, None, stackkit_rate_limit=RATE_LIMIT)
        figures = in_own_process(project, _measure_in_child, 0)
        small, large = (figures[size] for size in SIZES)
        ratio = large["peak"] / small["peak"]
        for size in SIZES:
            f = figures[size]
            lines.append(
                f"{label}, {size:,} rows: {f['bytes'] / 1e6:.1f} MB of CSV in {f['seconds']:.2f} s "
                f"({f['seconds'] / size * 1e6:.1f} us a row, under tracemalloc), "
                f"peak {f['peak'] / 1e6:.2f} MB"
            )
        rows.append(
            Row(
                f"CSV export, peak memory, {SIZES[1]:,} rows vs {SIZES[0]:,}, {label}",
                f"{large['peak'] / 1e6:.2f} MB",
                f"{small['peak'] / 1e6:.2f} MB",
                ratio,
                f"<= {GOAL}x",
                ratio <= GOAL,
            )
        )
    print("\n".join(lines))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    args = parser.parse_args()
    measure(database_url=args.database_url)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
