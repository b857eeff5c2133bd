"""What `stackkit.jobs` adds to procrastinate: deferring a job, and running jobs.

In a scratch PostgreSQL database (created on the server at `--database-url`,
dropped at the end) with procrastinate's tables, two queues of their own share
the database:

- procrastinate used directly: `App(connector=PsycopgConnector(...))`, a task, and
  `await task.defer_async(n=...)` (the baseline);
- stackkit: `JobQueue(url)`, a job, and `await job.defer(n=...)`.

Deferring: the median time of one defer, the contenders taking turns defer by
defer. Running: one worker (`concurrency=1`) runs `--jobs` no-op jobs of one
contender until none is left, the contenders taking turns round by round: jobs
a second. Goal: stackkit within 1.2x the time of procrastinate used directly.

    python benchmarks/jobs_queue.py [--rounds 3] [--jobs 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

import procrastinate
from harness import Row, add_database_url
from sqlalchemy.engine import make_url

from stackkit.jobs import JobQueue
from stackkit.testing import create_database, drop_database

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
GOAL = 1.2


async def run(url: str, rounds: int, jobs: int) -> dict[str, dict[str, float]]:
    """Per contender: the median seconds of one defer, and jobs run a second."""
    plain_url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    direct = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=plain_url))
    stackkit = JobQueue(url, requeue_every=None)

    @direct.task(name="bench.direct", queue="direct")
    async def direct_job(n: int) -> None:
        pass

    @stackkit.job(name="bench.stackkit", queue="stackkit")
    async def stackkit_job(n: int) -> None:
        pass

    defers: dict[str, Any] = {"direct": direct_job.defer_async, "stackkit": stackkit_job.defer}
    workers: dict[str, Any] = {
        "direct": lambda: direct.run_worker_async(
            queues=["direct"], wait=False, concurrency=1, install_signal_handlers=False
        ),
        "stackkit": lambda: stackkit.run_worker(queues=["stackkit"], until_empty=True),
    }
    async with direct.open_async(), stackkit:
        await stackkit.install()
        for name in defers:  # warm up: connections, prepared statements
            for n in range(20):
                await defers[name](n=n)
            await workers[name]()
        defer_times: dict[str, list[float]] = {name: [] for name in defers}
        rates: dict[str, list[float]] = {name: [] for name in defers}
        for round_number in range(rounds):
            order = list(defers) if round_number % 2 == 0 else list(reversed(defers))
            for n in range(jobs):
                for name in order:
                    started = time.perf_counter()
                    await defers[name](n=n)
                    defer_times[name].append(time.perf_counter() - started)
            for name in order:
                started = time.perf_counter()
                await workers[name]()
                rates[name].append(jobs / (time.perf_counter() - started))
        failed = await stackkit.records(status="failed")
        if failed:
            raise SystemExit(f"{len(failed)} jobs failed: {failed[0]}")
        return {
            name: {
                "defer": statistics.median(defer_times[name]),
                "rate": statistics.median(rates[name]),
            }
            for name in defers
        }


def in_scratch_database(database_url: str, rounds: int, jobs: int) -> dict[str, dict[str, float]]:
    if make_url(database_url).host != "127.0.0.1":
        raise SystemExit("the database URL must point at 127.0.0.1")
    name = f"stackkit_bench_{uuid.uuid4().hex[:12]}"
    url = create_database(database_url, name=name)
    try:
        return asyncio.run(run(url, rounds, jobs))
    finally:
        drop_database(database_url, name)


def measure(database_url: str = DEFAULT_URL, rounds: int = 3, jobs: int = 300) -> list[Row]:
    figures = in_scratch_database(database_url, rounds, jobs)
    ours, theirs = figures["stackkit"], figures["direct"]
    defer_ratio = ours["defer"] / theirs["defer"]
    # Time a job through the worker, stackkit's over procrastinate's.
    run_ratio = theirs["rate"] / ours["rate"]
    rows = [
        Row(
            "jobs: defer a job, stackkit vs procrastinate",
            f"{ours['defer'] * 1e6:.0f} us/defer",
            f"procrastinate {theirs['defer'] * 1e6:.0f} us",
            defer_ratio,
            f"<= {GOAL}x",
            defer_ratio <= GOAL,
        ),
        Row(
            "jobs: one worker running no-op jobs, time a job",
            f"{ours['rate']:,.0f} jobs/s",
            f"procrastinate {theirs['rate']:,.0f} jobs/s",
            run_ratio,
            f"<= {GOAL}x",
            run_ratio <= GOAL,
        ),
    ]
    for row in rows:
        print(f"{row.benchmark}: {row.stackkit} | {row.baseline} | {row.ratio:.2f}x")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_url(parser, DEFAULT_URL)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=300, help="jobs per contender per round")
    args = parser.parse_args()
    if min(args.rounds, args.jobs) < 1:
        raise SystemExit("--rounds and --jobs must be 1 or more")
    measure(args.database_url, args.rounds, args.jobs)


if __name__ == "__main__":
    main()
