"""What the response cache buys on a list endpoint, against the same endpoint uncached.

Serves `GET /api/items?limit=50&sort=-price` (a `Resource` over 1,000 seeded rows
in a scratch PostgreSQL database) from one uvicorn worker (uvloop, httptools)
per contender, loads it with wrk over loopback (32 connections), and prints
requests/s, p99 latency and the ratio to the uncached endpoint:

- cache hit, Redis store: `STACKKIT_CACHE_TTL=300` and `REDIS_URL` set; every
  request after the first is a hit, one Redis round trip (MGET) each;
- cache hit, memory store: the same without Redis (`MemoryStore` in the worker),
  to show what the Redis round trip costs;
- uncached: `STACKKIT_CACHE_TTL=0`; every request reads 50 rows from PostgreSQL.

Goal: cache hits at 3x the requests/s of the uncached endpoint or more.

Before timing, the script checks that the contenders send the same items and
that the cached ones say `Cache-Status: stackkit; hit`, then warms each server
up with a wrk run that counts every response's status and `Cache-Status`.
Each figure is the median of `--rounds` rounds; the rounds take the contenders
in turn, so that a slow spell of the machine hits them all alike.

    python benchmarks/response_cache.py [--seconds 5] [--rounds 3]

Needs `wrk` on PATH (Debian: `apt-get install wrk`), a PostgreSQL on 127.0.0.1
whose user may create databases (`--database-url`, else
`STACKKIT_BENCH_DATABASE_URL`, else postgresql://postgres@127.0.0.1:5432/postgres)
and a Redis on 127.0.0.1 (`--redis-url`, else `STACKKIT_BENCH_REDIS_URL`, else
redis://127.0.0.1:6379/0). The scratch database is dropped, and the Redis keys
(under a prefix unique to the run) deleted, at the end, also when the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import tempfile
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

from harness import Row, count_keys, free_port, parse_load, remove_keys, serve, wrk
from pydantic import BaseModel, Field
from sqlalchemy import String, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Mapped, mapped_column
from starlette.applications import Starlette

from stackkit import create_app
from stackkit.cache.redis_store import RedisStore
from stackkit.cache.store import Store
from stackkit.db import Database, Model, Repository, Service, utcnow
from stackkit.resources.resource import Resource
from stackkit.settings import load_settings
from stackkit.testing import create_database, drop_database

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
PREFIX_VARIABLE = "STACKKIT_BENCH_REDIS_PREFIX"
ROWS = 1_000
PATH = "/api/items?limit=50&sort=-price"
HIT = "stackkit; hit"
GOAL = 3.0  # cache hits a second over uncached GETs a second, at least


class Item(Model):
    name: Mapped[str] = mapped_column(String(100))
    price: Mapped[int] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(20))


class ItemRepository(Repository[Item]):
    model = Item
    filterable = ("name", "price", "status")
    sortable = ("name", "price", "created_at")


class ItemService(Service[Item]):
    repository = ItemRepository


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    price: int = Field(ge=0)
    status: str = "live"


class ItemPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    price: int | None = Field(default=None, ge=0)
    status: str | None = None


class ItemOut(ItemIn):
    id: int
    version: int
    created_at: datetime
    updated_at: datetime


def app() -> Starlette:
    """The app every server runs (`uvicorn --factory --no-proxy-headers`), configured by
    its environment."""
    settings = load_settings()
    items = Resource(
        "items", service=ItemService, create=ItemIn, update=ItemPatch, read=ItemOut, public=True
    )
    store: Store | None = None
    if settings.redis_url:
        # Like `default_cache_store`, but under a prefix of this run's own.
        store = RedisStore(settings.redis_url, prefix=os.environ[PREFIX_VARIABLE])
        store.name = "redis"
    return create_app(settings, resources=[items], cache_store=store)


# (label, environment); the last is the baseline.
CONTENDERS = [
    ("cache hit, Redis store", {"STACKKIT_CACHE_TTL": "300", "redis": "yes"}),
    ("cache hit, memory store", {"STACKKIT_CACHE_TTL": "300"}),
    ("uncached (PostgreSQL, 50 rows)", {"STACKKIT_CACHE_TTL": "0"}),
]

# Counts every response's status and Cache-Status; wrk calls `response` only when the
# script defines it, and parsing each response's headers costs it, so only the
# warm-up uses this script.
COUNTING_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok, hits, other = 0, 0, 0 end
function response(status, headers, body)
  local cache = headers["cache-status"] or headers["Cache-Status"] or ""
  if status ~= 200 then other = other + 1
  elseif cache == "stackkit; hit" then hits = hits + 1
  else ok = ok + 1 end
end
function done(summary, latency, requests)
  local t = {ok = 0, hits = 0, other = 0}
  for _, thread in ipairs(threads) do
    for key in pairs(t) do t[key] = t[key] + thread:get(key) end
  end
  io.write(string.format("COUNTS hits=%d ok=%d other=%d\\n", t.hits, t.ok, t.other))
end
"""


async def seed(url: str) -> None:
    rng = random.Random(1)  # noqa: S311 (seed data, not a secret)
    now = utcnow()
    rows = [
        {
            "name": f"item {n}",
            "price": rng.randrange(1000),
            "status": rng.choice(("live", "live", "draft")),
            "created_at": now,
            "updated_at": now,
        }
        for n in range(ROWS)
    ]
    table = Model.metadata.tables["items"]
    async with Database(url) as db, db.engine.begin() as connection:
        await connection.run_sync(table.create)
        await connection.execute(insert(table), rows)
        await connection.execute(text("ANALYZE items"))


def fetch(port: int) -> tuple[str | None, list[int]]:
    """Cache-Status and the item ids of one GET."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{PATH}", timeout=10) as response:
        return response.headers.get("Cache-Status"), [i["id"] for i in json.load(response)["items"]]


def check(ports: dict[str, int], cached: set[str]) -> None:
    """Every contender sends the same 50 items; the cached ones say hit from the second GET."""
    expected: list[int] | None = None
    for label, port in ports.items():
        fetch(port)
        status, ids = fetch(port)
        expected = expected or ids
        if len(ids) != 50 or ids != expected:
            raise SystemExit(f"{label}: other items than the first contender")
        if (label in cached) != (status == HIT):
            raise SystemExit(f"{label}: second GET has Cache-Status {status!r}")


def warm_up(label: str, port: int, script: Path, cached: bool) -> None:
    """A 2-second load that counts responses: all 200, all hits when cached."""
    output = wrk(f"http://127.0.0.1:{port}{PATH}", 2, script=script)
    counts = re.search(r"COUNTS hits=(\d+) ok=(\d+) other=(\d+)", output)
    if counts is None:
        raise SystemExit(f"{label}: the counting wrk script printed no counts")
    hits, ok, other = map(int, counts.groups())
    if other or (hits if not cached else ok):
        raise SystemExit(f"{label} under load: {hits} hits, {ok} other 200s, {other} not 200")


def load(port: int, seconds: int) -> tuple[float, float, int]:
    """Requests/s, p99 ms, and the errors wrk saw (socket errors, non-2xx/3xx)."""
    result = parse_load(wrk(f"http://127.0.0.1:{port}{PATH}", seconds))
    return result.rate, result.p99_ms, result.errors


def run(
    database_url: str, redis_url: str, prefix: str, seconds: int, rounds: int
) -> dict[str, tuple[float, float, int]]:
    """(requests/s, p99 ms, errors) of each contender: medians of the rounds, errors summed."""
    asyncio.run(seed(database_url))
    base = {
        "STACKKIT_ENV": "test",
        "SECRET_KEY": "response-cache-benchmark-" + "x" * 32,
        "STACKKIT_ACCESS_LOG": "false",
        # A limit no load here reaches: every request pays the check, none is refused.
        "STACKKIT_RATE_LIMIT": "1000000000/second",
        "DATABASE_URL": database_url,
        PREFIX_VARIABLE: prefix,
    }
    cached = {label for label, env in CONTENDERS if env["STACKKIT_CACHE_TTL"] != "0"}
    samples: dict[str, list[tuple[float, float, int]]] = {label: [] for label, _ in CONTENDERS}
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "count.lua"
        script.write_text(COUNTING_SCRIPT)
        ports = {label: free_port() for label, _ in CONTENDERS}
        servers = []
        try:
            for n, (label, env) in enumerate(CONTENDERS):
                environment = {**base, "STACKKIT_CACHE_TTL": env["STACKKIT_CACHE_TTL"]}
                # Empty, not unset: the server's `.env` or environment must not add Redis.
                environment["REDIS_URL"] = redis_url if env.get("redis") else ""
                servers.append(
                    serve(
                        "response_cache:app", ports[label], Path(folder) / f"{n}.log", environment
                    )
                )
            check(ports, cached)
            if count_keys(redis_url, prefix) == 0:
                raise SystemExit("the Redis contender wrote no key under its prefix")
            for label, _ in CONTENDERS:
                warm_up(label, ports[label], script, label in cached)
            # Rounds interleave the contenders, so that a slow spell of the machine hits all alike.
            for _ in range(rounds):
                for label, _ in CONTENDERS:
                    samples[label].append(load(ports[label], seconds))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)

    return {
        label: (
            statistics.median(r[0] for r in rs),
            statistics.median(r[1] for r in rs),
            sum(r[2] for r in rs),
        )
        for label, rs in samples.items()
    }


def in_scratch_stores(
    database_url: str, redis_url: str, seconds: int, rounds: int
) -> dict[str, tuple[float, float, int]]:
    """`run` in a database and under a Redis prefix of its own, both removed at the end."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not on PATH (Debian: apt-get install wrk)")
    if make_url(database_url).host != "127.0.0.1":
        raise SystemExit("the database URL must point at 127.0.0.1")
    if make_url(redis_url).host != "127.0.0.1":
        raise SystemExit("the Redis URL must point at 127.0.0.1")
    run_id = uuid.uuid4().hex[:12]
    name, prefix = f"stackkit_bench_{run_id}", f"stackkit_bench_{run_id}:"
    url = create_database(database_url, name=name)
    try:
        return run(url, redis_url, prefix, seconds, rounds)
    finally:
        drop_database(database_url, name)
        remove_keys(redis_url, prefix)


def measure(
    database_url: str = DEFAULT_DATABASE_URL,
    redis_url: str = DEFAULT_REDIS_URL,
    seconds: int = 5,
    rounds: int = 3,
) -> list[Row]:
    """Cache hits (Redis, memory) against the uncached 50-row GET (goal: 3x or more).

    Raises:
        SystemExit: a contender answered with errors under load.
    """
    results = in_scratch_stores(database_url, redis_url, seconds, rounds)
    base_rate, base_p99, _ = results[CONTENDERS[-1][0]]
    rows = []
    for label, (rate, p99, errors) in results.items():
        if errors:
            raise SystemExit(f"{label}: {errors} socket errors or non-2xx responses under load")
        if label == CONTENDERS[-1][0]:
            continue
        ratio = rate / base_rate
        rows.append(
            Row(
                f"response cache: {label} vs uncached 50-row GET",
                f"{rate:,.0f} req/s, p99 {p99:.1f} ms",
                f"{base_rate:,.0f} req/s, p99 {base_p99:.1f} ms",
                ratio,
                f">= {GOAL}x",
                ratio >= GOAL,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("STACKKIT_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="a PostgreSQL server on 127.0.0.1, as a user that may create databases",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("STACKKIT_BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="a Redis on 127.0.0.1; the run's keys are deleted at the end",
    )
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if min(args.seconds, args.rounds) < 1:
        raise SystemExit("--seconds and --rounds must be 1 or more")
    results = in_scratch_stores(args.database_url, args.redis_url, args.seconds, args.rounds)

    baseline = results[CONTENDERS[-1][0]][0]
    print(f"{ROWS:,} rows, GET {PATH}, median of {args.rounds} x {args.seconds} s, wrk -t2 -c32")
    print(f"{'contender':32} {'req/s':>9} {'p99 ms':>8} {'vs uncached':>12}")
    for label, (rate, p99, _) in results.items():
        print(f"{label:32} {rate:9.0f} {p99:8.2f} {rate / baseline:11.2f}x")
    for label, (_, _, errors) in results.items():
        if errors:
            print(f"warning: {label}: {errors} socket errors or non-2xx responses under load")


if __name__ == "__main__":
    main()
