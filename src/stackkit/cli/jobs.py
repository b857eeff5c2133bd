"""`stackkit worker` and `stackkit jobs`: run the project's jobs, and look after its queue.

Both load the app `stackkit run` serves and use the queue it was given
(`create_app(jobs=...)`). The queue must live in PostgreSQL: on SQLite the jobs
live in the app's own process, which runs them itself.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import click
from rich import box
from rich.console import Console
from rich.table import Table
from starlette.applications import Starlette

from stackkit.cli.errors import one_line
from stackkit.cli.loading import load_app
from stackkit.cli.project import Project, find_project
from stackkit.jobs import STATUSES, JobQueue, JobRecord, QueueUnavailable

__all__ = ["jobs_group", "size_pool", "worker_command"]

T = TypeVar("T")


@click.command("worker")
@click.option(
    "-c", "--concurrency", default=4, show_default=True, type=click.IntRange(1, 1000),
    help="Jobs this worker runs at once.",
)  # fmt: skip
@click.option(
    "-q", "--queue", "queues", multiple=True, metavar="NAME",
    help="Serve only this queue (repeat for more); default: every queue.",
)  # fmt: skip
def worker_command(concurrency: int, queues: tuple[str, ...]) -> None:
    """Run the project's jobs (PostgreSQL), until Ctrl+C or SIGTERM.

    On either, the running jobs get 30 s to finish; those still running then are
    queued again, for another worker. Start as many workers as
    you like, on as many hosts: each job runs on one of them. A job of a worker that
    was killed runs again on another within about a minute.
    """
    project = find_project()
    with project.activated():
        app = load_app(project)
        jobs = _durable_queue(app, project)
        size_pool(jobs, concurrency)
        served = ", ".join(queues) if queues else "every queue"
        click.echo(f"Worker for {project.package}: {served}, {concurrency} at once. Ctrl+C stops.")
        _run(_work(app, jobs, concurrency=concurrency, queues=list(queues) or None))
    click.echo("Worker stopped.")


async def _work(
    app: Starlette, jobs: JobQueue, *, concurrency: int, queues: list[str] | None
) -> None:
    # The app's lifespan opens what the jobs use (database, stores) and runs its start-up.
    async with app.router.lifespan_context(app):
        await _check(jobs)
        worker = asyncio.create_task(jobs.run_worker(queues=queues, concurrency=concurrency))
        loop = asyncio.get_running_loop()
        for stop in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(stop, worker.cancel)
        try:
            await worker
        except asyncio.CancelledError:
            if not worker.cancelled():
                raise
        finally:
            for stop in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(stop)


@click.group("jobs")
def jobs_group() -> None:
    """List the project's jobs, retry failed ones, cancel waiting ones."""


@jobs_group.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only jobs of this status.")
@click.option("--queue", metavar="NAME", help="Only jobs of this queue.")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1),
    help="Show the newest N jobs.",
)  # fmt: skip
def list_command(status: str | None, queue: str | None, limit: int) -> None:
    """List the jobs the queue holds, newest last."""
    project = find_project()
    with project.activated():
        jobs = _durable_queue(load_app(project), project)
        # One more than shown, to tell whether older ones were left out.
        newest = _run(
            _with_queue(jobs, lambda: jobs.page(status=status, queue=queue, limit=limit + 1))
        )
    shown = list(reversed(newest[:limit]))
    if not shown:
        click.echo("No jobs.")
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("Id", "Job", "Queue", "Status", "Attempts", "Scheduled", "Arguments"):
        table.add_column(column, overflow="fold")
    for record in shown:
        table.add_row(*_row(record))
    console = Console(highlight=False)
    if not console.is_terminal:
        wide = console.options.update_width(10_000)
        console.width = max(console.width, console.measure(table, options=wide).maximum)
    console.print(table)
    if len(newest) > limit:
        click.echo("(older jobs not shown: --limit)")


@jobs_group.command("retry")
@click.argument("job_id", type=click.IntRange(1))
def retry_command(job_id: int) -> None:
    """Queue the failed (or cancelled) job JOB_ID again, to run now."""
    project = find_project()
    with project.activated():
        jobs = _durable_queue(load_app(project), project)
        try:
            _run(_with_queue(jobs, lambda: jobs.retry(job_id)))
        except LookupError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"Job {job_id} queued again.")


@jobs_group.command("cancel")
@click.argument("job_id", type=click.IntRange(1))
def cancel_command(job_id: int) -> None:
    """Cancel the job JOB_ID, which has not started yet."""
    project = find_project()
    with project.activated():
        jobs = _durable_queue(load_app(project), project)
        if not _run(_with_queue(jobs, lambda: jobs.cancel(job_id))):
            raise click.ClickException(f"no waiting job has the id {job_id}")
    click.echo(f"Job {job_id} cancelled.")


def size_pool(jobs: JobQueue, concurrency: int) -> None:
    """Give the queue of a worker running `concurrency` jobs at once enough connections:
    one per running job, one listening for new jobs, one for the heartbeat."""
    if jobs.database_url is not None and jobs.pool_size < concurrency + 2:
        jobs.bind(jobs.database_url, pool_size=concurrency + 2)


def _durable_queue(app: Starlette, project: Project) -> JobQueue:
    jobs: JobQueue | None = getattr(app.state, "jobs", None)
    if jobs is None:
        raise click.ClickException(
            f"{project.app} has no job queue: build it with create_app(jobs=...)"
        )
    if not jobs.durable:
        raise click.ClickException(
            "the jobs live in the app's own process on SQLite (`stackkit run` runs them); "
            "a worker and `stackkit jobs` need DATABASE_URL on PostgreSQL"
        )
    return jobs


async def _check(jobs: JobQueue) -> None:
    try:
        await jobs.check()
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None


async def _with_queue(jobs: JobQueue, work: Callable[[], Awaitable[T]]) -> T:
    async with jobs:
        await _check(jobs)
        return await work()


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` on a loop of its own; a database that fails is one line."""
    try:
        return asyncio.run(work)
    except (QueueUnavailable, OSError) as error:
        raise click.ClickException(f"job queue error: {one_line(error)}") from None


def _row(record: JobRecord) -> list[str]:
    scheduled = record.scheduled_at.isoformat(timespec="seconds") if record.scheduled_at else "-"
    arguments = ", ".join(f"{name}={value!r}" for name, value in record.arguments.items())
    return [
        str(record.id), record.name, record.queue, record.status, str(record.attempts),
        scheduled, arguments or "-",
    ]  # fmt: skip
