"""What `Repository.list` and `.page` cost per call, against the same query in SQLAlchemy Core.

Seeds a scratch PostgreSQL database with 10,000 items, then times one call of
each contender: open a read-only unit (`db.session(read_only=True)`), run the
query for 50 rows, close the unit. Three ways to write the same query:

- Core: `select(items_table)` -> `Row`s (the baseline);
- ORM: `select(Item)` with the same where and order -> `Item` objects;
- stackkit: `ItemRepository(session).list(...)` or `.page(...)` -> `Item` objects.

So ORM vs Core is what building ORM objects costs, and stackkit vs ORM is what
stackkit itself adds (checking and typing filters and sorts, signing cursors).
Every contender builds its query in the call, as an endpoint would. Queries:
`list` (offset pagination), `page 1` and `page 101` (keyset pagination, the
latter through a cursor 5,000 rows deep).

Goal: stackkit within 1.25x the time of the Core query. Each figure is the
median time of a call over `--rounds` x `--iterations` calls; the contenders
take turns call by call, so that a slow spell of the machine hits them all
alike. With `--concurrency N`, N calls run at once
(on N pooled connections) and a call's time is their wall time over N.

    python benchmarks/repository_list.py [--rounds 5] [--iterations 300] [--concurrency 1]

Needs a PostgreSQL on 127.0.0.1 whose user may create databases: the URL comes
from `--database-url`, else `STACKKIT_BENCH_DATABASE_URL`, else
postgresql://postgres@127.0.0.1:5432/postgres. The scratch database is
dropped at the end, also when the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from harness import Row, add_database_url
from sqlalchemy import String, insert, select, text, tuple_
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Mapped, mapped_column

from stackkit.db import Database, Model, Repository, utcnow
from stackkit.testing import create_database, drop_database

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ROWS = 10_000
LIMIT = 50
DEEP_PAGE = 100  # pages skipped before the deep page: it starts after row 5,000
FILTERS = {"status": "live", "price__gte": 10}
SORT = "-price"
GOAL = 1.25  # stackkit's time a call over the Core query's, at most


class Item(Model):
    name: Mapped[str] = mapped_column(String(100), index=True)
    price: Mapped[int] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(20))


class ItemRepository(Repository[Item]):
    model = Item
    filterable = ("name", "price", "status")
    sortable = ("name", "price", "created_at")


items_table = Model.metadata.tables["items"]  # Item.__table__, typed as a Table
items = items_table.c

# One call of a contender: takes the database, returns the rows (for the check of results).
Call = Callable[[Database], Awaitable[Sequence[Any]]]


def contenders(deep_cursor: str, deep_after: tuple[int, int]) -> list[tuple[str, str, Call]]:
    """(query, contender, call) for every contender; the Core one of each query comes first."""

    async def core(db: Database, after: tuple[int, int] | None = None, limit: int = LIMIT) -> Any:
        query = select(items_table).where(items.status == "live", items.price >= 10)
        if after is not None:
            query = query.where(tuple_(items.price, items.id) < tuple_(*after))
        query = query.order_by(items.price.desc(), items.id.desc()).limit(limit)
        async with db.session(read_only=True) as session:
            return (await session.execute(query)).all()

    async def orm(db: Database, after: tuple[int, int] | None = None, limit: int = LIMIT) -> Any:
        query = select(Item).where(Item.status == "live", Item.price >= 10)
        if after is not None:
            query = query.where(tuple_(Item.price, Item.id) < tuple_(*after))
        query = query.order_by(Item.price.desc(), Item.id.desc()).limit(limit)
        async with db.session(read_only=True) as session:
            return (await session.scalars(query)).all()

    async def stackkit_list(db: Database) -> Any:
        async with db.session(read_only=True) as session:
            return await ItemRepository(session).list(FILTERS, sort=SORT, limit=LIMIT)

    async def stackkit_page(db: Database, cursor: str | None = None) -> Any:
        async with db.session(read_only=True) as session:
            repository = ItemRepository(session, cursors=db.cursors)
            page = await repository.page(FILTERS, sort=SORT, limit=LIMIT, cursor=cursor)
            return page.items

    # A page asks for one row more than it shows, to know whether another follows.
    page = LIMIT + 1
    deep = f"page {DEEP_PAGE + 1}"
    return [
        ("list", "Core select(table) -> rows", core),
        ("list", "ORM select(Item) -> objects", orm),
        ("list", "stackkit Repository.list", stackkit_list),
        ("page 1", "Core select(table) -> rows", lambda db: core(db, limit=page)),
        ("page 1", "ORM select(Item) -> objects", lambda db: orm(db, limit=page)),
        ("page 1", "stackkit Repository.page", stackkit_page),
        (deep, "Core select(table) -> rows", lambda db: core(db, deep_after, page)),
        (deep, "ORM select(Item) -> objects", lambda db: orm(db, deep_after, page)),
        (deep, "stackkit Repository.page", lambda db: stackkit_page(db, deep_cursor)),
    ]


async def seed(db: Database) -> None:
    rng = random.Random(1)  # noqa: S311 (seed data, not a secret)
    now = utcnow()
    rows = [
        {
            "name": f"item {n}",
            "price": rng.randrange(1000),
            "status": rng.choice(("live", "live", "live", "draft", "archived")),
            "created_at": now,
            "updated_at": now,
        }
        for n in range(ROWS)
    ]
    async with db.engine.begin() as connection:
        await connection.run_sync(items_table.create)
        await connection.execute(insert(items_table), rows)
        await connection.execute(text("ANALYZE items"))


async def deep_page_start(db: Database) -> tuple[str, tuple[int, int]]:
    """The cursor to the deep page, walked to through stackkit, and the (price, id) it
    starts after."""
    cursor = ""
    for _ in range(DEEP_PAGE):
        async with db.session(read_only=True) as session:
            repository = ItemRepository(session, cursors=db.cursors)
            page = await repository.page(FILTERS, sort=SORT, limit=LIMIT, cursor=cursor or None)
        if page.next_cursor is None:
            raise SystemExit("too few rows for the deep page")
        cursor = page.next_cursor
    last = page.items[-1]
    return cursor, (last.price, last.id)


async def time_batch(call: Call, db: Database, concurrency: int) -> float:
    """Seconds per call of `concurrency` calls made at once (one call: its time)."""
    start = time.perf_counter()
    await asyncio.gather(*(call(db) for _ in range(concurrency)))
    return (time.perf_counter() - start) / concurrency


async def run(
    url: str, rounds: int, iterations: int, concurrency: int
) -> list[tuple[str, str, float]]:
    """(query, contender, median ms a call) of every contender."""
    async with Database(url, pool_size=max(10, concurrency)) as db:
        await seed(db)
        runs = contenders(*await deep_page_start(db))
        # Warm up (connections, statement caches) and check that each query's contenders agree.
        expected: dict[str, list[int]] = {}
        for query, label, call in runs:
            for _ in range(20):
                rows = await call(db)
            ids = [row.id for row in rows][:LIMIT]
            if expected.setdefault(query, ids) != ids or len(ids) != LIMIT:
                raise SystemExit(f"{query}: {label} returned other rows than Core")
        samples: list[list[float]] = [[] for _ in runs]
        batches = max(1, iterations // concurrency)
        for _ in range(rounds):
            gc.collect()
            # Contenders take turns call by call, each sweep starting one further on,
            # so that a slow spell of the machine hits them all alike.
            for sweep in range(batches):
                for k in range(len(runs)):
                    index = (sweep + k) % len(runs)
                    samples[index].append(await time_batch(runs[index][2], db, concurrency))
    return [
        (query, label, statistics.median(samples[index]) * 1000)
        for index, (query, label, _) in enumerate(runs)
    ]


def in_scratch_database(
    database_url: str, rounds: int, iterations: int, concurrency: int
) -> list[tuple[str, str, float]]:
    """`run` in a database of its own on the server, dropped at the end, also on failure."""
    if make_url(database_url).host != "127.0.0.1":
        raise SystemExit("the database URL must point at 127.0.0.1")
    name = f"stackkit_bench_{uuid.uuid4().hex[:12]}"
    url = create_database(database_url, name=name)
    try:
        return asyncio.run(run(url, rounds, iterations, concurrency))
    finally:
        drop_database(database_url, name)


def measure(
    database_url: str = DEFAULT_URL, rounds: int = 5, iterations: int = 300, concurrency: int = 1
) -> list[Row]:
    """stackkit's `list` and `page` against the Core query of the same rows (goal: 1.25x
    its time or less)."""
    results = in_scratch_database(database_url, rounds, iterations, concurrency)
    core = {query: ms for query, label, ms in results if label.startswith("Core")}
    at_once = f", {concurrency} at once" if concurrency > 1 else ""
    rows = []
    for query, label, ms in results:
        if not label.startswith("stackkit"):
            continue
        ratio = ms / core[query]
        rows.append(
            Row(
                f"data layer: {label.removeprefix('stackkit ')}, {query}{at_once}",
                f"{ms:.2f} ms/call",
                f"Core {core[query]:.2f} ms",
                ratio,
                f"<= {GOAL}x",
                ratio <= GOAL,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_url(parser, DEFAULT_URL)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--iterations", type=int, default=300, help="calls of each contender per round"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="calls made at once, on as many connections (1: one after another)",
    )
    args = parser.parse_args()
    if min(args.rounds, args.iterations, args.concurrency) < 1:
        raise SystemExit("--rounds, --iterations and --concurrency must be 1 or more")
    results = in_scratch_database(args.database_url, args.rounds, args.iterations, args.concurrency)
    print(
        f"{ROWS:,} rows, {LIMIT} per call, {args.rounds} x {args.iterations} calls,"
        f" {args.concurrency} at once"
    )
    print(f"{'query':9} {'contender':30} {'median ms/call':>14} {'vs Core':>8}")
    baseline = 0.0
    for query, label, median in results:
        if label.startswith("Core"):
            baseline = median
        print(f"{query:9} {label:30} {median:14.3f} {median / baseline:7.2f}x")


if __name__ == "__main__":
    main()
