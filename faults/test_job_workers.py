"""Drill 7: a job worker killed mid-run.

A freshly generated project, migrated on a throwaway PostgreSQL server of the drill's
own, gets one job of the drill's: it writes the row of its number, then works a
little longer (so that a kill can land between the write and the job's end). Two
`stackkit worker` processes (4 jobs at once each) serve the queue while the drill
defers 1,000 runs from 8 tasks at once. Once a third of the rows are written, one
worker is killed with SIGKILL. Its running jobs are queued again by the other
worker's periodic `requeue_stalled` (every 2 s here, for workers silent 15 s) and
run there. Every job must end `succeeded`, every number have its one row, and only
the killed worker's jobs may have run twice. Bounded: 1,000 jobs, 120 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import psycopg
import pytest

from faults.conftest import throwaway
from stackkit.jobs import JobQueue
from stackkit.testing import PostgresProcess, wait_until

JOBS = 1_000
CONCURRENCY = 4
STALLED_AFTER = 15
DEADLINE = 120.0
DRILL_JOBS = "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'drill.mark'"
REPORT = Path("artifacts/faults/job-workers.json")

QUEUE = f'''
"""The drill's queue: stalled jobs looked for every 2 s, after {STALLED_AFTER} s of silence."""

from stackkit.jobs import JobQueue

jobs = JobQueue(requeue_every="* * * * * */2", stalled_after={STALLED_AFTER})
'''

DRILL_JOB = '''
"""Writes the row of its number (a second run only counts itself), then works on."""

import asyncio

from sqlalchemy import text

from drill.jobs.queue import jobs


@jobs.job(name="drill.mark", retries=2)
async def mark(n: int) -> None:
    async with jobs.state.database.session() as session:
        await session.execute(
            text(
                "INSERT INTO drill_marks (n) VALUES (:n)"
                " ON CONFLICT (n) DO UPDATE SET runs = drill_marks.runs + 1"
            ),
            {"n": n},
        )
    await asyncio.sleep(0.02)
'''


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresProcess]:
    with throwaway(PostgresProcess()) as server:
        yield server


def _stackkit(project: Path, *arguments: str, url: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "stackkit", *arguments],
        cwd=project, env=_environment(url), capture_output=True, text=True, timeout=180,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _environment(url: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("STACKKIT_", "DATABASE_"))}
    return {**kept, "DATABASE_URL": url, "STACKKIT_LOG_LEVEL": "WARNING"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresProcess) -> Path:
    """A generated project with the drill's job, migrated on the drill's server."""
    root = tmp_path_factory.mktemp("jobs") / "drill"
    _stackkit(root.parent, "new", "drill", "--directory", str(root), url=postgres.url)
    (root / "drill" / "jobs" / "queue.py").write_text(QUEUE)
    (root / "drill" / "jobs" / "marks.py").write_text(DRILL_JOB)
    registry = root / "drill" / "jobs" / "__init__.py"
    registry.write_text(registry.read_text() + "\nfrom drill.jobs import marks  # noqa: E402\n")
    _stackkit(root, "db", "upgrade", url=postgres.url)
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE drill_marks (n integer PRIMARY KEY, runs integer DEFAULT 1)"
        )
    return root


def _worker(project: Path, url: str, log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "stackkit", "worker", "--concurrency", str(CONCURRENCY)],
        cwd=project, env=_environment(url), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


async def _defer_all(url: str) -> float:
    """Defer the 1,000 runs from 8 tasks; the seconds it took."""
    async with JobQueue(url, requeue_every=None, clean_up_every=None) as queue:

        @queue.job(name="drill.mark")
        async def mark(n: int) -> None: ...

        started = time.monotonic()

        async def defer(numbers: range) -> None:
            for n in numbers:
                await mark.defer(n=n)

        await asyncio.gather(*(defer(range(k, JOBS, 8)) for k in range(8)))
        return time.monotonic() - started


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.kill()
        worker.wait(timeout=10)


def _count(url: str, query: str) -> int:
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(query).fetchone()
    return int(row[0]) if row else 0


def test_every_job_of_a_killed_worker_runs_again_and_none_is_lost(
    project: Path, postgres: PostgresProcess, tmp_path: Path
) -> None:
    url = postgres.url
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    with contextlib.ExitStack() as stack:
        first, second = (_worker(project, url, stack.enter_context(log.open("wb"))) for log in logs)
        for worker in (first, second):
            stack.callback(_stop, worker)
        started = time.monotonic()
        wait_until(
            lambda: _count(url, "SELECT count(*) FROM procrastinate_workers") == 2,
            timeout=30, description="both workers to start",
        )  # fmt: skip
        defer_seconds = asyncio.run(_defer_all(url))
        wait_until(
            lambda: _count(url, "SELECT count(*) FROM drill_marks") >= JOBS // 3,
            timeout=60, description="a third of the jobs to run",
        )  # fmt: skip
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        held = _count(url, f"{DRILL_JOBS} AND status = 'doing'")

        def all_done() -> bool:
            assert second.poll() is None, logs[1].read_text()
            return _count(url, f"{DRILL_JOBS} AND status = 'succeeded'") == JOBS

        wait_until(all_done, timeout=DEADLINE, description="every job to succeed")
        finished_at = time.monotonic()
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=40) == 0, logs[1].read_text()

    assert _count(url, "SELECT count(*) FROM drill_marks") == JOBS
    assert _count(url, "SELECT count(*) FROM drill_marks WHERE n BETWEEN 0 AND 999") == JOBS
    twice = _count(url, "SELECT count(*) FROM drill_marks WHERE runs > 1")
    # Only the jobs the killed worker held may have run a second time.
    assert twice <= CONCURRENCY
    assert _count(url, f"{DRILL_JOBS} AND status <> 'succeeded'") == 0
    report = {
        "jobs": JOBS,
        "workers": 2,
        "concurrency": CONCURRENCY,
        "defer_seconds": round(defer_seconds, 2),
        "running_when_killed": held,
        "ran_twice": twice,
        "all_done_after_kill_seconds": round(finished_at - killed_at, 1),
        "total_seconds": round(finished_at - started, 1),
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\njob workers: {json.dumps(report)}")
