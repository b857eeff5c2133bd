"""The job queue on PostgreSQL (procrastinate's tables in a database of the test's own)
and on the embedded default (in the process): a job runs once, a job deferred in a
unit of work exists only if the unit commits, failures are retried, a run past its
timeout fails, a unique job waits once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import psycopg
import pytest
from procrastinate.periodic import PeriodicDeferrer
from sqlalchemy import text

from stackkit.cache import MemoryStore
from stackkit.db import Database
from stackkit.jobs import JobQueue
from stackkit.logs import current_request_id
from stackkit.testing.postgres import temporary_database


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with Database(database_url) as database:
        async with database.session() as session:
            await session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT)"))
        yield database


@pytest.fixture
async def jobs(database_url: str) -> AsyncIterator[JobQueue]:
    """The queue, without its periodic re-queueing: `records()` holds the test's jobs."""
    queue = JobQueue(database_url, requeue_every=None, clean_up_every=None)
    await queue.open()
    try:
        await queue.install()
        yield queue
    finally:
        await queue.close()


async def test_a_deferred_job_runs_once(jobs: JobQueue) -> None:
    ran: list[int] = []

    @jobs.job()
    async def remember(number: int) -> None:
        ran.append(number)

    job_id = await remember.defer(number=7)
    assert job_id is not None
    assert [(r.id, r.status) for r in await jobs.records()] == [(job_id, "todo")]
    await jobs.run_worker(until_empty=True)
    assert ran == [7]
    assert [(r.status, r.arguments) for r in await jobs.records()] == [("succeeded", {"number": 7})]


@pytest.mark.parametrize("commits", [True, False], ids=["commits", "rolls-back"])
async def test_a_job_deferred_in_a_unit_exists_only_if_the_unit_commits(
    db: Database, jobs: JobQueue, commits: bool
) -> None:
    sent: list[int] = []

    @jobs.job()
    async def announce(note_id: int) -> None:
        sent.append(note_id)

    with contextlib.nullcontext() if commits else pytest.raises(LookupError):
        async with db.session() as session:
            await session.execute(text("INSERT INTO notes (id, title) VALUES (1, 'first')"))
            await announce.defer_in(session, note_id=1)
            if not commits:
                raise LookupError("the unit fails after the job was deferred")
    await jobs.run_worker(until_empty=True)
    assert sent == ([1] if commits else [])
    async with db.session(read_only=True) as session:
        rows = (await session.execute(text("SELECT count(*) FROM notes"))).scalar_one()
    assert rows == (1 if commits else 0)


@pytest.mark.parametrize(("retries", "status", "runs"), [(3, "succeeded", 3), (1, "failed", 2)])
async def test_a_failed_run_is_retried_up_to_its_retries(
    jobs: JobQueue, retries: int, status: str, runs: int
) -> None:
    attempts: list[int] = []

    @jobs.job(retries=retries, backoff=0)
    async def flaky() -> None:
        attempts.append(len(attempts) + 1)
        if len(attempts) < 3:
            raise ConnectionError("the mail server is away")

    await flaky.defer()
    await jobs.run_worker(until_empty=True)
    assert attempts == list(range(1, runs + 1))
    (record,) = await jobs.records()
    assert (record.status, record.attempts) == (status, runs)


async def test_a_run_past_its_timeout_fails(jobs: JobQueue) -> None:
    finished: list[bool] = []

    @jobs.job(timeout=0.05)
    async def slow() -> None:
        await asyncio.sleep(5)
        finished.append(True)

    await slow.defer()
    await jobs.run_worker(until_empty=True)
    assert finished == []
    assert [r.status for r in await jobs.records()] == ["failed"]


async def test_a_unique_job_waits_once_per_set_of_arguments(jobs: JobQueue) -> None:
    @jobs.job(unique=True)
    async def reindex(table: str) -> None:
        pass

    first = await reindex.defer(table="notes")
    assert first is not None
    assert await reindex.defer(table="notes") is None  # already waiting
    assert await reindex.defer(table="tags") is not None
    await jobs.run_worker(until_empty=True)
    assert await reindex.defer(table="notes") is not None  # the first has run


async def test_a_waiting_job_can_be_cancelled_and_a_failed_one_retried(jobs: JobQueue) -> None:
    runs: list[str] = []

    @jobs.job()
    async def once(label: str) -> None:
        runs.append(label)
        if label == "fails" and runs.count("fails") == 1:
            raise RuntimeError("first time only")

    cancelled = await once.defer(label="cancelled")
    failing = await once.defer(label="fails")
    assert cancelled is not None
    assert failing is not None
    assert await jobs.cancel(cancelled)
    assert not await jobs.cancel(cancelled)  # no longer waiting
    await jobs.run_worker(until_empty=True)
    statuses = {r.id: (r.status, r.last_error) for r in await jobs.records()}
    assert statuses == {
        cancelled: ("cancelled", None),
        failing: ("failed", "RuntimeError: first time only"),
    }
    await jobs.retry(failing)
    await jobs.run_worker(until_empty=True)
    assert runs == ["fails", "fails"]
    assert {r.id: r.status for r in await jobs.records()}[failing] == "succeeded"
    for not_failed in (failing, 10_000):  # succeeded, and no such job
        refused = f"no failed or cancelled job has the id {not_failed}$"
        with pytest.raises(LookupError, match=refused):
            await jobs.retry(not_failed)


async def test_a_job_takes_keyword_arguments_only(jobs: JobQueue) -> None:
    @jobs.job()
    async def positional(number: int) -> None:
        pass

    with pytest.raises(TypeError, match="keyword arguments only"):
        await positional.defer(1)
    assert await jobs.records() == []


async def test_a_duplicate_unique_job_in_a_unit_leaves_the_unit_whole(
    db: Database, jobs: JobQueue
) -> None:
    """On PostgreSQL the refused duplicate is rolled back to a savepoint, not the unit."""
    ran: list[str] = []

    @jobs.job(unique=True)
    async def reindex(table: str) -> None:
        ran.append(table)

    async with db.session() as session:
        await reindex.defer_in(session, table="notes")
        await session.execute(text("INSERT INTO notes (id, title) VALUES (1, 'kept')"))
        second = await reindex.defer_in(session, table="notes")
        await session.execute(text("INSERT INTO notes (id, title) VALUES (2, 'kept too')"))
    assert second is None
    await jobs.run_worker(until_empty=True)
    assert ran == ["notes"]
    async with db.session(read_only=True) as session:
        assert (await session.execute(text("SELECT count(*) FROM notes"))).scalar_one() == 2


async def test_the_queue_is_ready_once_its_tables_exist(postgres_server_url: str) -> None:
    with temporary_database(postgres_server_url) as url:
        queue = JobQueue(url)
        await queue.open()
        try:
            with pytest.raises(RuntimeError, match="run the migrations"):
                await queue.check()
            assert await queue.install()
            await queue.check()
            assert not await queue.install()  # there already
        finally:
            await queue.close()


def test_the_example_of_the_guide_runs_as_written(tmp_path: Path) -> None:
    """docs/jobs.md's program, on SQLite, in a folder of its own."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "jobs.md").read_text()
    program = guide.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "notes.py").write_text(program)
    run = subprocess.run(
        [sys.executable, "notes.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["announcing 'first'", "note 404 is gone"]


def test_the_app_example_of_the_guide_builds_an_app_with_its_queue(tmp_path: Path) -> None:
    """docs/jobs.md's second block: the queue bound to the app's database, its job known."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "jobs.md").read_text()
    program = guide.split("```python\n")[2].split("```", 1)[0]
    (tmp_path / "app.py").write_text(program)
    check = (
        "import app\n"
        "assert app.app.state.jobs is app.jobs\n"
        "assert app.jobs.database_url.startswith('sqlite')\n"
        "print(sorted(app.jobs.jobs))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**os.environ, "STACKKIT_ENV": "test", "DATABASE_URL": "sqlite:///:memory:"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['app.welcome', 'stackkit.jobs.clean_up']"


WORKER = """
import asyncio
import os

import psycopg

from stackkit.jobs import JobQueue

URL = os.environ["JOBS_URL"]
jobs = JobQueue(URL, requeue_every=None, clean_up_every=None)


@jobs.job(name="tests.mark")
async def mark(name: str) -> None:
    # Idempotent: a second run finds the mark and adds nothing.
    async with await psycopg.AsyncConnection.connect(URL, autocommit=True) as connection:
        await connection.execute(
            "INSERT INTO marks (name) VALUES (%s) ON CONFLICT DO NOTHING", [name]
        )
    if os.environ.get("JOBS_HANG"):
        await asyncio.Event().wait()  # killed here, its work done, its job unfinished


async def main() -> None:
    async with jobs:
        await jobs.run_worker()


if __name__ == "__main__":
    asyncio.run(main())
"""


async def test_the_job_of_a_killed_worker_runs_again_and_its_effect_happens_once(
    postgres_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with temporary_database(postgres_server_url) as url:
        (tmp_path / "worker.py").write_text(WORKER)
        plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
        monkeypatch.setenv("JOBS_URL", plain)
        async with await psycopg.AsyncConnection.connect(plain, autocommit=True) as admin:
            await admin.execute("CREATE TABLE marks (name TEXT PRIMARY KEY)")
        environment = {**os.environ, "JOBS_HANG": "1"}
        sys.path.insert(0, str(tmp_path))
        try:
            import worker  # the same job, run in this process after the kill

            async with worker.jobs as jobs:
                await jobs.install()
                job_id = await worker.mark.defer(name="welcome")
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "worker.py", cwd=tmp_path, env=environment
                )
                try:
                    await _until(lambda: _status(jobs, job_id), "doing")
                finally:
                    process.kill()  # SIGKILL: no goodbye, no heartbeat any more
                    await asyncio.wait_for(process.wait(), 10)
                await _until(lambda: jobs.requeue_stalled(silent_for=1), [job_id])
                await jobs.run_worker(until_empty=True)
                (record,) = await jobs.records()
                assert (record.status, record.attempts) == ("succeeded", 2)
            async with await psycopg.AsyncConnection.connect(plain) as reader:
                marks = await (await reader.execute("SELECT name FROM marks")).fetchall()
            assert marks == [("welcome",)]
        finally:
            sys.path.remove(str(tmp_path))
            sys.modules.pop("worker", None)


async def _status(jobs: JobQueue, job_id: int | None) -> str:
    return {r.id: r.status for r in await jobs.records()}.get(job_id or -1, "")


async def _until(
    probe: Callable[[], Awaitable[object]], expected: object, within: float = 30
) -> None:
    """Poll `probe` until it gives `expected`; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while (seen := await probe()) != expected:
        assert time.monotonic() < deadline, f"still {seen!r}, not {expected!r}"
        await asyncio.sleep(0.1)


async def test_a_periodic_job_runs_once_a_tick_whatever_the_number_of_workers(
    database_url: str,
) -> None:
    async with JobQueue(database_url, requeue_every=None, clean_up_every=None) as jobs:
        await jobs.install()
        ticks: list[int] = []

        @jobs.periodic("* * * * * *")  # every second
        @jobs.job()
        async def tick(timestamp: int) -> None:
            ticks.append(timestamp)

        workers = [asyncio.create_task(jobs.run_worker()) for _ in range(2)]
        try:
            await _until(lambda: _has(ticks, 3), True, within=15)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    assert len(ticks) == len(set(ticks))  # no tick twice
    assert ticks[:3] == list(range(ticks[0], ticks[0] + 3))  # one a second


async def test_stalled_jobs_are_requeued_every_minute_and_old_ones_cleaned_hourly(
    postgres_server_url: str,
) -> None:
    with temporary_database(postgres_server_url) as url:
        async with JobQueue(url) as jobs:
            periodic = jobs.procrastinate.periodic_registry.periodic_tasks.values()
            assert sorted((p.task.name, p.cron) for p in periodic) == [
                ("stackkit.jobs.clean_up", "17 * * * *"),
                ("stackkit.jobs.requeue_stalled", "* * * * *"),
            ]
    # Nothing can stall in one process.
    assert sorted(JobQueue("sqlite:///unused.db").jobs) == ["stackkit.jobs.clean_up"]


async def test_the_clean_up_deletes_old_finished_jobs_and_purges_expired_entries(
    jobs: JobQueue, database_url: str
) -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    await store.set("session:old", b"x", ttl=10)
    await store.set("session:live", b"x", ttl=100)
    jobs.state.stores = {"cache": store, "sessions": store}

    @jobs.job()
    async def sometimes(fail: bool) -> None:
        if fail:
            raise RuntimeError("failed")

    done, failed = await sometimes.defer(fail=False), await sometimes.defer(fail=True)
    await jobs.run_worker(until_empty=True)
    now[0] += 50
    assert await jobs.clean_up() == 1  # the expired session; the jobs are too recent
    assert await store.get("session:live") == b"x"
    assert {r.id for r in await jobs.records()} == {done, failed}
    await jobs.clean_up(keep_finished_hours=0, keep_failed_hours=1)
    assert [r.id for r in await jobs.records()] == [failed]  # failed ones are kept longer
    await jobs.clean_up(keep_finished_hours=0, keep_failed_hours=0)
    assert await jobs.records() == []


async def _has(items: list[int], count: int) -> bool:
    return len(items) >= count


async def test_opening_does_not_wait_for_the_database_and_the_check_says_it_is_away() -> None:
    """An app may start before its database: `/readyz` tells when the queue is ready."""
    queue = JobQueue("postgresql://postgres@127.0.0.1:1/none", connect_timeout=0.5)
    started = time.monotonic()
    async with queue:
        opened = time.monotonic() - started
        with pytest.raises(RuntimeError, match="the job queue's database does not answer"):
            await queue.check()
    assert opened < 0.5


async def test_a_queue_opens_again_after_it_was_closed(postgres_server_url: str) -> None:
    with temporary_database(postgres_server_url) as url:
        queue = JobQueue(url, requeue_every=None, clean_up_every=None)
        for _ in range(2):
            async with queue:
                await queue.install()
                await queue.check()


async def test_a_queue_without_a_database_declares_jobs_and_runs_once_bound(
    database_url: str,
) -> None:
    queue = JobQueue(requeue_every=None, clean_up_every=None)
    ran: list[int] = []

    @queue.job()
    async def remember(number: int) -> None:
        ran.append(number)

    with pytest.raises(RuntimeError, match=r"has no database: give it one"):
        await queue.open()
    with pytest.raises(RuntimeError, match=r"jobs.state has no 'database': give the queue"):
        queue.state.database  # noqa: B018
    queue.bind(database_url)
    assert queue.durable == database_url.startswith("postgresql")
    async with queue:
        await queue.install()
        with pytest.raises(RuntimeError, match="close it before binding it elsewhere"):
            queue.bind(database_url)
        await remember.defer(number=3)
        await queue.run_worker(until_empty=True)
    assert ran == [3]


def test_two_jobs_of_one_name_are_refused() -> None:
    queue = JobQueue()

    @queue.job(name="report")
    async def first() -> None: ...

    with pytest.raises(ValueError, match="a job named 'report' is declared already"):

        @queue.job(name="report")
        async def second() -> None: ...


async def test_a_job_still_running_when_its_worker_stops_is_queued_again(
    jobs: JobQueue,
) -> None:
    started = asyncio.Event()
    runs: list[int] = []

    @jobs.job()  # no retries: the shutdown's re-queueing does not depend on them
    async def slow(n: int) -> None:
        runs.append(n)
        if len(runs) == 1:
            started.set()
            await asyncio.Event().wait()  # runs past the worker's graceful time

    job_id = await slow.defer(n=1)
    worker = asyncio.create_task(jobs.run_worker(graceful=0.2))
    async with asyncio.timeout(10):
        await started.wait()
    worker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await worker
    [record] = [r for r in await jobs.records() if r.id == job_id]
    assert record.status == "todo"  # queued again, not aborted
    await jobs.run_worker(until_empty=True)
    assert runs == [1, 1]
    assert [r.status for r in await jobs.records() if r.id == job_id] == ["succeeded"]


async def test_a_periodic_job_is_deferred_on_its_schedule_by_an_injected_clock(
    jobs: JobQueue,
) -> None:
    """The workers' scheduler (procrastinate's `PeriodicDeferrer`), asked at given times
    rather than the wall clock's: one run a tick, with the tick's timestamp, however
    many schedulers ask."""

    @jobs.periodic("0 3 * * *")
    @jobs.job(name="tests.nightly")
    async def nightly(timestamp: int) -> None: ...

    day = 86_400
    three = 1_767_236_400  # 2026-01-01 03:00:00 UTC
    workers = [PeriodicDeferrer(registry=jobs.procrastinate.periodic_registry) for _ in range(2)]

    async def ask_at(at: float) -> list[int]:
        for worker in workers:
            await worker.defer_jobs(jobs_to_defer=worker.get_previous_tasks(at=at))
        return sorted(r.arguments["timestamp"] for r in await jobs.records())

    assert await ask_at(three - 1) == []  # the tick before is over 10 minutes gone: skipped
    assert await ask_at(three + 5) == [three]
    assert await ask_at(three + 3_600) == [three]  # no tick since
    assert await ask_at(three + day + 5) == [three, three + day]


async def test_a_jobs_log_records_name_the_job(jobs: JobQueue) -> None:
    """Its records carry `job-<id>` where a request's carry the request id
    (`RequestIdFilter` reads it from `current_request_id`)."""
    seen: list[str | None] = []

    @jobs.job()
    async def talk() -> None:
        seen.append(current_request_id.get())

    job_id = await talk.defer()
    await jobs.run_worker(until_empty=True)
    assert seen == [f"job-{job_id}"]
    assert current_request_id.get() is None
