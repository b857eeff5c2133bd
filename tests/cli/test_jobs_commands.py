"""`stackkit worker` and `stackkit jobs list / retry / cancel` on a project whose app has
a job queue in a PostgreSQL database of the test's own; their refusals on SQLite."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from stackkit.cli.jobs import jobs_group, size_pool, worker_command
from stackkit.jobs import JobQueue
from stackkit.testing import create_database, drop_database
from tests.cli.conftest import DemoProject

cli = click.Group("stackkit", commands=[jobs_group, worker_command])
MakeProject = Callable[[str], DemoProject]

MAIN = """
from pathlib import Path

from stackkit import create_app
from stackkit.jobs import JobQueue

jobs = JobQueue(requeue_every=None, clean_up_every=None)


@jobs.job(name="touch")
async def touch(path: str) -> None:
    if path.endswith("fail"):
        raise RuntimeError("asked to fail")
    Path(path).write_text("done")


app = create_app(jobs=jobs, configure_logs=False)
"""


@pytest.fixture
def postgres_project(make_project: MakeProject, postgres_server_url: str) -> Iterator[DemoProject]:
    url = create_database(postgres_server_url)
    try:
        project = make_project(url)
        project.write("main", MAIN)
        asyncio.run(_install(url))
        yield project
    finally:
        drop_database(postgres_server_url, url.rsplit("/", 1)[1])


async def _install(url: str) -> None:
    async with JobQueue(url, requeue_every=None, clean_up_every=None) as queue:
        await queue.install()


def _defer(url: str, *paths: str) -> list[int]:
    async def defer() -> list[int]:
        async with JobQueue(url, requeue_every=None, clean_up_every=None) as queue:

            @queue.job(name="touch")
            async def touch(path: str) -> None: ...

            return [job_id for path in paths if (job_id := await touch.defer(path=path))]

    return asyncio.run(defer())


def invoke(*arguments: str) -> Result:
    return CliRunner().invoke(cli, list(arguments))


def test_a_worker_runs_the_jobs_and_stops_on_sigterm(
    postgres_project: DemoProject, tmp_path: Path
) -> None:
    done = [tmp_path / f"job-{n}" for n in range(3)]
    _defer(postgres_project.database_url, *map(str, done))
    worker = subprocess.Popen(
        [sys.executable, "-m", "stackkit", "worker", "--concurrency", "2"],
        cwd=postgres_project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "STACKKIT_LOG_LEVEL": "WARNING"},
    )
    try:
        deadline = time.monotonic() + 30
        while not all(path.exists() for path in done):
            assert worker.poll() is None, worker.communicate()[0]
            assert time.monotonic() < deadline, "the worker did not run the jobs"
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    finally:
        worker.kill()
    assert worker.returncode == 0, output
    assert f"Worker for {postgres_project.package}: every queue, 2 at once." in output
    assert output.rstrip().endswith("Worker stopped."), output


def test_jobs_list_retry_and_cancel(postgres_project: DemoProject, tmp_path: Path) -> None:
    url = postgres_project.database_url
    waiting, failing = _defer(url, str(tmp_path / "later"), str(tmp_path / "now-fail"))
    assert invoke("jobs", "cancel", str(waiting)).output == f"Job {waiting} cancelled.\n"
    assert "no waiting job has the id" in invoke("jobs", "cancel", str(waiting)).output

    async def run_once() -> None:
        async with JobQueue(url, requeue_every=None, clean_up_every=None) as queue:

            @queue.job(name="touch")
            async def touch(path: str) -> None:
                raise RuntimeError("asked to fail")

            await queue.run_worker(until_empty=True)

    asyncio.run(run_once())
    listed = invoke("jobs", "list")
    assert listed.exit_code == 0, listed.output
    rows = [line.split() for line in listed.output.splitlines()[2:]]
    assert [row[:4] for row in rows] == [
        [str(waiting), "touch", "default", "cancelled"],
        [str(failing), "touch", "default", "failed"],
    ]
    failed = invoke("jobs", "list", "--status", "failed")
    assert [line.split()[0] for line in failed.output.splitlines()[2:]] == [str(failing)]
    assert invoke("jobs", "retry", str(failing)).output == f"Job {failing} queued again.\n"
    again = invoke("jobs", "retry", str(failing))  # waiting now, not failed
    assert again.exit_code == 1
    assert again.output == f"Error: no failed or cancelled job has the id {failing}\n"
    todo = invoke("jobs", "list", "--status", "todo")
    assert [line.split()[0] for line in todo.output.splitlines()[2:]] == [str(failing)]


@pytest.mark.parametrize(
    "arguments", [["worker"], ["jobs", "list"], ["jobs", "retry", "1"], ["jobs", "cancel", "1"]]
)
def test_on_sqlite_the_commands_say_the_app_runs_its_jobs(
    make_project: MakeProject, arguments: list[str]
) -> None:
    make_project("sqlite:///./app.db").write("main", MAIN)
    result = invoke(*arguments)
    assert result.exit_code == 1
    assert result.output == (
        "Error: the jobs live in the app's own process on SQLite (`stackkit run` runs "
        "them); a worker and `stackkit jobs` need DATABASE_URL on PostgreSQL\n"
    )


def test_a_queue_without_tables_says_to_migrate(
    make_project: MakeProject, postgres_server_url: str
) -> None:
    url = create_database(postgres_server_url)
    try:
        make_project(url).write("main", MAIN)
        result = invoke("jobs", "list")
    finally:
        drop_database(postgres_server_url, url.rsplit("/", 1)[1])
    assert result.exit_code == 1
    assert result.output == "Error: the job queue's tables are missing: run the migrations\n"


def test_a_worker_keeps_a_connection_for_each_job_it_runs_at_once() -> None:
    queue = JobQueue("postgresql://postgres@127.0.0.1:1/unused", pool_size=5)
    size_pool(queue, 1)
    assert queue.pool_size == 5  # enough already
    size_pool(queue, 10)
    assert queue.pool_size == 12
    assert queue.procrastinate.connector._pool_args["max_size"] == 12
