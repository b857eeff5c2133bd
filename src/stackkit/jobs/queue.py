"""`JobQueue`: procrastinate's app behind the interface stackkit's apps use.

A queue is usually made without a database, where the app's jobs are declared, and
`create_app(jobs=...)` binds it to the app's database and fills `state` (the app's
settings, database and stores), which the jobs read when they run.

On PostgreSQL the jobs live in the app's own database (procrastinate's tables), so a
job can be deferred in the same transaction as the write that causes it, and any
number of workers on any number of hosts share the queue. On the embedded default
(SQLite) procrastinate has no backend: jobs are kept in the process
(`InMemoryConnector`) and run there, and those not run yet are lost on a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, ParamSpec

import procrastinate
from procrastinate import testing
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from stackkit.backends import Backend
from stackkit.jobs.schema import queue_schema
from stackkit.logs import current_request_id
from stackkit.settings import normalize_database_url

__all__ = ["STATUSES", "Job", "JobQueue", "JobRecord", "JobState", "QueueUnavailable"]

STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")
"""A job's statuses: waiting, running, and how it ended."""

logger = logging.getLogger("stackkit.jobs")

P = ParamSpec("P")
JobFunction = Callable[P, Awaitable[None]]


@dataclass(frozen=True)
class JobRecord:
    """A deferred job as the queue keeps it."""

    id: int
    name: str
    queue: str
    status: str
    """`todo`, `doing`, `succeeded`, `failed`, `cancelled` or `aborted`."""
    attempts: int
    arguments: dict[str, Any]
    scheduled_at: datetime | None
    last_error: str | None = None
    """The error of its last failed run (`TypeName: message`), if a run failed."""


class QueueUnavailable(RuntimeError):
    """The queue's database did not answer: the job was not deferred."""


class JobState:
    """What an app gives its jobs: `create_app(jobs=...)` sets `settings`, `database`,
    `stores` (by name) and, with authentication, `auth`; an app may add its own."""

    def __setattr__(self, name: str, value: Any) -> None:  # any name, for type checkers
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:  # only for a name not set
        raise RuntimeError(
            f"jobs.state has no {name!r}: give the queue to create_app(jobs=...), "
            "or set it yourself where the worker starts"
        )


class Job(Generic[P]):
    """A declared job: call `defer` (or `defer_in`) to have a worker run it."""

    def __init__(
        self, queue: JobQueue, task: procrastinate.tasks.Task[Any, Any, Any], unique: bool
    ) -> None:
        self.queue = queue
        self.task = task
        self.unique = unique

    @property
    def name(self) -> str:
        return str(self.task.name)

    async def defer(self, *args: P.args, **kwargs: P.kwargs) -> int | None:
        """Queue a run with these keyword arguments (JSON values); its id, or None when a
        `unique` job with the same arguments is already waiting."""
        _keywords_only(args)
        try:
            with _answering():
                return int(await self.configured(kwargs).defer_async(**kwargs))
        except AlreadyEnqueued:
            return None

    async def defer_in(
        self, session: AsyncSession, *args: P.args, **kwargs: P.kwargs
    ) -> int | None:
        """`defer`, in the transaction of `session`'s unit of work: the job exists once the
        unit commits, and never if it rolls back (an outbox without a table of its own).

        On the embedded default the job is queued when the unit commits (in the process:
        it does not survive a crash in between)."""
        _keywords_only(args)
        if not self.queue.durable:
            self.queue.defer_on_commit(session, self, kwargs)
            return None
        # A savepoint: a refused duplicate must not abort the unit's own transaction.
        try:
            async with session.begin_nested():
                connection = await session.connection()
                raw = await connection.get_raw_connection()
                deferring = self.configured(kwargs, connection=raw.driver_connection)
                return int(await deferring.defer_async(**kwargs))
        except AlreadyEnqueued:
            return None

    def configured(self, arguments: dict[str, Any], **options: Any) -> Any:
        """procrastinate's deferrer of a run with `arguments` (its queueing lock, if unique)."""
        if self.unique:
            options["queueing_lock"] = self.unique_key(arguments)
        return self.task.configure(**options)

    def unique_key(self, arguments: dict[str, Any]) -> str:
        """The queueing lock of a `unique` job: its name and arguments."""
        text = json.dumps(arguments, sort_keys=True, default=str)
        return f"{self.name}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


class JobQueue(Backend):
    """The app's job queue. See the module.

    Args:
        database_url: where the jobs live: PostgreSQL keeps them in that database,
            SQLite in this process. Leave it out to have `create_app(jobs=...)` use the
            app's `DATABASE_URL` (or call `bind`).
        pool_size: connections the queue keeps to PostgreSQL (deferring and workers).
        connect_timeout: seconds an operation waits for a connection to PostgreSQL
            before it fails (`check()` then says the queue is not ready).
        requeue_every: when workers run `requeue_stalled` (cron, see `periodic`): every
            minute by default; None never (on SQLite, never: no other process can die
            holding a job).
        stalled_after: seconds a worker may stay silent before that periodic job queues
            its jobs again (a live worker beats every 10 s).
        clean_up_every: when workers run `clean_up` (cron): hourly by default; None never.
    """

    name = "jobs"

    def __init__(
        self,
        database_url: str | None = None,
        *,
        pool_size: int = 5,
        connect_timeout: float = 5.0,
        requeue_every: str | None = "* * * * *",
        stalled_after: float = 30,
        clean_up_every: str | None = "17 * * * *",
    ) -> None:
        if stalled_after <= _HEARTBEAT:
            raise ValueError(f"stalled_after must be over {_HEARTBEAT} s, a worker's beat")
        self.stalled_after = stalled_after
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.requeue_every = requeue_every
        self.database_url: str | None = None
        """The database the queue is bound to; None until `bind`."""
        self.has_own_database = database_url is not None
        """Made with a database of its own, which `create_app` leaves as it is."""
        self.durable = False
        """Whether jobs outlive the process (PostgreSQL), rather than live in it."""
        self.procrastinate = procrastinate.App(connector=_ProcessConnector())
        self.state = JobState()
        self.jobs: dict[str, Job[Any]] = {}
        self._opened = False
        self._deferring: set[asyncio.Task[Any]] = set()
        self._errors: dict[int, str] = {}  # on SQLite
        if clean_up_every is not None:
            self._schedule_clean_up(clean_up_every)
        if database_url is not None:
            self.bind(database_url)

    def bind(
        self,
        database_url: str,
        *,
        pool_size: int | None = None,
        connect_timeout: float | None = None,
    ) -> None:
        """Keep the jobs in `database_url` from now on (see the class).

        Raises:
            RuntimeError: the queue is open.
            ValueError: the URL is neither PostgreSQL nor SQLite.
        """
        if self._opened:
            raise RuntimeError("the job queue is open: close it before binding it elsewhere")
        url = normalize_database_url(database_url)
        self.durable = url.startswith("postgresql")
        self.pool_size = pool_size or self.pool_size
        self.connect_timeout = connect_timeout or self.connect_timeout
        connector: Any
        if self.durable:
            connector = procrastinate.PsycopgConnector(
                conninfo=url.replace("postgresql+psycopg://", "postgresql://", 1),
                # No connection made at open: an app may start before its database.
                min_size=0,
                max_size=self.pool_size,
                timeout=self.connect_timeout,
            )
        else:
            connector = _ProcessConnector()
        # What procrastinate's own `App.replace_connector` does, kept beyond a block.
        self.procrastinate.connector = connector
        self.procrastinate.job_manager.connector = connector
        self.database_url = database_url
        if self.durable and self.requeue_every is not None and _REQUEUE not in self.jobs:
            self._schedule_requeue(self.requeue_every)

    def job(
        self,
        *,
        name: str | None = None,
        queue: str = "default",
        retries: int = 0,
        backoff: int = 2,
        timeout: float | None = None,
        unique: bool = False,
    ) -> Callable[[JobFunction[P]], Job[P]]:
        """Declare an async function as a job.

        Args:
            name: the job's name in the queue (default: module and function).
            queue: the queue it goes to; workers may serve some queues only.
            retries: runs after a failed one (an exception, or past `timeout`).
            backoff: seconds before the first retry, doubled before each next one
                (`backoff ** attempt`); 0 retries at once.
            timeout: seconds a run may take before it fails (and is retried).
            unique: at most one waiting run per set of arguments: deferring it again
                meanwhile does nothing (`defer` answers None).
        """

        def declare(function: JobFunction[P]) -> Job[P]:
            run: Callable[..., Awaitable[None]] = function
            if timeout is not None:
                run = _timed(function, timeout)
            strategy = _Retries(retries, backoff)
            declared_name = name or f"{function.__module__}.{function.__qualname__}"
            declared = self.procrastinate.task(
                name=declared_name, queue=queue, retry=strategy, pass_context=True
            )
            if declared_name in self.jobs:
                raise ValueError(f"a job named {declared_name!r} is declared already")
            task = declared(self._keeping_errors(run))
            job: Job[P] = Job(self, task, unique)
            self.jobs[job.name] = job
            return job

        return declare

    def _keeping_errors(
        self, run: Callable[..., Awaitable[None]]
    ) -> Callable[..., Awaitable[None]]:
        """`run`, keeping the error of a failed run for `records()` (procrastinate keeps
        none), its log records marked `job-<id>` in place of a request id."""

        async def keeping_errors(context: procrastinate.JobContext, **kwargs: Any) -> None:
            assert context.job.id is not None
            # A run's log records name its job where a request's name the request.
            named = current_request_id.set(f"job-{context.job.id}")
            try:
                await run(**kwargs)
            except Exception as error:
                await self._keep_error(context.job.id, _describe(error))
                raise
            finally:
                current_request_id.reset(named)

        return keeping_errors

    async def _keep_error(self, job_id: int, error: str) -> None:
        if not self.durable:
            self._errors[job_id] = error
            return
        try:
            await self.procrastinate.connector.execute_query_async(
                "INSERT INTO stackkit_job_errors (job_id, error) VALUES (%(job_id)s, %(error)s)"
                " ON CONFLICT (job_id) DO UPDATE SET error = EXCLUDED.error, failed_at = now()",
                job_id=job_id,
                error=error,
            )
        except procrastinate.exceptions.ConnectorException:
            # The run's failure matters more than its description: procrastinate records it.
            logger.warning("The error of job %s was not kept: %s", job_id, error, exc_info=True)

    async def _errors_of(self, job_ids: list[int]) -> dict[int, str]:
        if not self.durable:
            return {job_id: self._errors[job_id] for job_id in job_ids if job_id in self._errors}
        with _answering():
            rows = await self.procrastinate.connector.execute_query_all_async(
                "SELECT job_id, error FROM stackkit_job_errors WHERE job_id = ANY(%(ids)s)",
                ids=job_ids,
            )
        return {int(row["job_id"]): str(row["error"]) for row in rows}

    def _schedule_requeue(self, cron: str) -> None:
        """The jobs of workers that died, queued again on the `cron` schedule."""

        @self.periodic(cron)
        @self.job(name=_REQUEUE)
        async def requeue_stalled(timestamp: int) -> None:
            await self.requeue_stalled(silent_for=self.stalled_after)

    def _schedule_clean_up(self, cron: str) -> None:
        @self.periodic(cron)
        @self.job(name=_CLEAN_UP)
        async def clean_up(timestamp: int) -> None:
            await self.clean_up()

    async def clean_up(
        self, *, keep_finished_hours: int = 7 * 24, keep_failed_hours: int = 30 * 24
    ) -> int:
        """What the workers run every hour: delete the jobs that succeeded, were
        cancelled or aborted over `keep_finished_hours` ago, and the failed ones over
        `keep_failed_hours` ago; and drop the expired entries of the app's stores that
        keep them until touched (the in-process store: sessions, reset links, limits
        past their time; Redis expires its own). How many entries it dropped."""
        manager = self.procrastinate.job_manager
        with _answering():
            await manager.delete_old_jobs(
                keep_finished_hours, include_cancelled=True, include_aborted=True
            )
            await manager.delete_old_jobs(keep_failed_hours, include_failed=True)
        if not self.durable:
            connector: Any = self.procrastinate.connector
            self._errors = {k: v for k, v in self._errors.items() if k in connector.jobs}
        stores = vars(self.state).get("stores", {})
        purged = 0
        for store in {id(store): store for store in stores.values()}.values():
            purge = getattr(store, "purge_expired", None)
            if purge is not None:
                purged += int(purge())
        return purged

    def periodic(self, cron: str) -> Callable[[Job[P]], Job[P]]:
        """Run a job on a schedule: `cron` has five fields (minute, hour, day, month,
        weekday) and an optional sixth of seconds. Each tick runs once, however many
        workers serve the queue; the job is called with `timestamp`, the tick's Unix
        time (one key per tick, for a job that must not do a tick's work twice).

            @jobs.periodic("0 3 * * *")
            @jobs.job()
            async def nightly(timestamp: int) -> None: ...
        """

        def schedule(job: Job[P]) -> Job[P]:
            self.procrastinate.periodic(cron=cron)(job.task)
            return job

        return schedule

    async def open(self) -> None:
        if self._opened:
            return
        if self.database_url is None:
            raise RuntimeError(
                "the job queue has no database: give it one (JobQueue(url), bind(url)) "
                "or pass it to create_app(jobs=...)"
            )
        await self.procrastinate.open_async()
        self._opened = True

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await self.procrastinate.close_async()

    async def __aenter__(self) -> JobQueue:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def check(self) -> None:
        with _answering():
            ready = await self.procrastinate.job_manager.check_connection_async()
        if not ready:
            raise RuntimeError("the job queue's tables are missing: run the migrations")

    async def install(self) -> bool:
        """Create the queue's tables in a PostgreSQL database that has none yet; whether
        it did."""
        if not self.durable:
            return False
        exists = await self.procrastinate.connector.execute_query_one_async(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
        )
        if exists["present"]:
            return False
        # Without arguments, still read for placeholders: each `%` of the SQL doubled.
        await self.procrastinate.connector.execute_query_async(queue_schema().replace("%", "%%"))
        return True

    @contextlib.asynccontextmanager
    async def worker_running(
        self, *, queues: list[str] | None = None, concurrency: int = 1
    ) -> AsyncIterator[None]:
        """Run a worker in this process while in the block (an app's in-process worker on
        the embedded default); on leaving, the running jobs finish (up to 30 s)."""
        worker = asyncio.create_task(self.run_worker(queues=queues, concurrency=concurrency))
        try:
            yield
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def run_worker(
        self,
        *,
        queues: list[str] | None = None,
        concurrency: int = 1,
        until_empty: bool = False,
        graceful: float = 30,
    ) -> None:
        """Run jobs until cancelled or, with `until_empty`, until none is waiting.

        Once cancelled, the running jobs get `graceful` seconds to finish; those still
        running then are stopped and queued again, to run at once on another worker
        (this does not count against their retries' backoff, but as an attempt)."""
        await self._deferred()
        options: dict[str, Any] = {} if queues is None else {"queues": queues}
        await self.procrastinate.run_worker_async(
            concurrency=concurrency,
            wait=not until_empty,
            install_signal_handlers=False,
            shutdown_graceful_timeout=graceful,
            **options,
        )

    async def run_pending(self, *, within: float = 30) -> None:
        """Run the jobs waiting now, in this process, and return once none is waiting or
        running (those scheduled for later wait on): for tests, and scripts.

        Raises:
            TimeoutError: jobs still wait or run after `within` seconds.
        """
        async with asyncio.timeout(within):
            await self.run_worker(until_empty=True)
            # Another worker (the app's own, on SQLite) may still be running one: it
            # tells nothing when done, so the queue is asked again.
            while True:
                if not await self._pending():
                    return
                await asyncio.sleep(0.01)

    async def _pending(self) -> bool:
        if await self.page(status="doing", limit=1):
            return True
        now = procrastinate.utils.utcnow()
        waiting = await self.records(status="todo")
        return any(r.scheduled_at is None or r.scheduled_at <= now for r in waiting)

    async def records(
        self, *, status: str | None = None, queue: str | None = None
    ) -> list[JobRecord]:
        """The jobs the queue holds, oldest first, of one status or queue if given."""
        return list(reversed(await self.page(status=status, queue=queue, limit=None)))

    async def page(
        self,
        *,
        status: str | None = None,
        queue: str | None = None,
        limit: int | None = 50,
        before: int | None = None,
    ) -> list[JobRecord]:
        """The newest `limit` jobs (None: all) of one status or queue if given, with ids
        under `before`: one page of the admins' list, newest first, read with one query."""
        await self._deferred()
        if self.durable:
            with _answering():
                rows = await self.procrastinate.connector.execute_query_all_async(
                    _PAGE, status=status, queue=queue, before=before, limit=limit
                )
        else:
            connector: Any = self.procrastinate.connector  # procrastinate's in-memory one
            rows = sorted(
                (
                    row for row in connector.jobs.values()
                    if (status is None or row["status"] == status)
                    and (queue is None or row["queue_name"] == queue)
                    and (before is None or row["id"] < before)
                ),
                key=lambda row: -int(row["id"]),
            )[:limit]  # fmt: skip
        errors = await self._errors_of([int(row["id"]) for row in rows])
        return [
            JobRecord(
                id=int(row["id"]),
                name=str(row["task_name"]),
                queue=str(row["queue_name"]),
                status=str(row["status"]),
                attempts=int(row["attempts"]),
                arguments=dict(row["args"]),
                scheduled_at=row["scheduled_at"],
                last_error=errors.get(int(row["id"])),
            )
            for row in rows
        ]

    async def counts(self) -> dict[str, int]:
        """How many jobs the queue holds of each status."""
        await self._deferred()
        if self.durable:
            with _answering():
                rows = await self.procrastinate.connector.execute_query_all_async(
                    "SELECT status::text AS status, count(*) AS count"
                    " FROM procrastinate_jobs GROUP BY status"
                )
            found = {str(row["status"]): int(row["count"]) for row in rows}
        else:
            connector: Any = self.procrastinate.connector
            found = dict(Counter(str(row["status"]) for row in connector.jobs.values()))
        return {status: found.get(status, 0) for status in STATUSES}

    async def requeue_stalled(self, *, silent_for: float = 30) -> list[int]:
        """Queue again the jobs left running by workers silent for `silent_for` seconds
        (killed, or their host lost: a live worker beats every 10 s); their ids.

        A job queued again may have done part of its work before: write jobs so that
        a second run does no harm."""
        manager = self.procrastinate.job_manager
        stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=silent_for))
        for job in stalled:
            await manager.retry_job(job)
        return sorted(int(job.id) for job in stalled if job.id is not None)

    async def retry(self, job_id: int) -> None:
        """Queue a failed (or cancelled) job again, to run now.

        Raises:
            LookupError: no failed or cancelled job has this id.
        """
        manager = self.procrastinate.job_manager
        with _answering():
            found = list(await manager.list_jobs_async(id=job_id))
        if not found or str(found[0].status) not in _RETRIABLE:
            raise LookupError(f"no failed or cancelled job has the id {job_id}")
        try:
            with _answering():
                await manager.retry_job_by_id_async(job_id, procrastinate.utils.utcnow())
        except QueueUnavailable as error:
            if _raised_by_sql(error.__cause__):  # it was retried meanwhile
                raise LookupError(f"no failed or cancelled job has the id {job_id}") from None
            raise

    async def cancel(self, job_id: int) -> bool:
        """Cancel a job that has not started; whether it was waiting."""
        try:
            with _answering():
                return bool(await self.procrastinate.job_manager.cancel_job_by_id_async(job_id))
        except KeyError:  # no such job, in the process's queue
            return False

    def deferring(self, task: asyncio.Task[Any]) -> None:
        """Hold a deferral made at a unit's commit (the embedded default) until it is done."""
        self._deferring.add(task)
        task.add_done_callback(self._deferring.discard)

    async def _deferred(self) -> None:
        """Wait for the deferrals of units that have committed in this process."""
        if self._deferring:
            await asyncio.gather(*self._deferring, return_exceptions=True)

    def defer_on_commit(
        self, session: AsyncSession, job: Job[Any], arguments: dict[str, Any]
    ) -> None:
        """Defer `job` once `session`'s transaction commits (the embedded default)."""
        sync_session: Session = session.sync_session
        pending: list[tuple[Job[Any], dict[str, Any]]] = sync_session.info.setdefault(_PENDING, [])
        if not pending:
            event.listen(sync_session, "after_commit", _defer_pending, once=True)
            event.listen(sync_session, "after_rollback", _drop_pending, once=True)
        pending.append((job, arguments))


_PENDING = "stackkit_jobs_pending"
_PAGE = """
SELECT id, task_name, queue_name, status::text AS status, attempts, args, scheduled_at
FROM procrastinate_jobs
WHERE (%(status)s::text IS NULL OR status::text = %(status)s)
    AND (%(queue)s::text IS NULL OR queue_name = %(queue)s)
    AND (%(before)s::bigint IS NULL OR id < %(before)s)
ORDER BY id DESC
LIMIT %(limit)s
"""
_REQUEUE = "stackkit.jobs.requeue_stalled"
_CLEAN_UP = "stackkit.jobs.clean_up"
_RETRIABLE = ("failed", "cancelled", "aborted")
_ERROR_LENGTH = 2000
_HEARTBEAT = 10  # seconds between a procrastinate worker's beats


def _defer_pending(sync_session: Session) -> None:
    loop = asyncio.get_running_loop()
    for job, arguments in _drop_pending(sync_session):
        job.queue.deferring(loop.create_task(job.defer(**arguments)))


def _drop_pending(sync_session: Session) -> list[tuple[Job[Any], dict[str, Any]]]:
    return list(sync_session.info.pop(_PENDING, []))


class _ProcessConnector(testing.InMemoryConnector):
    """procrastinate's in-memory connector, keeping a copy of each job's arguments: it
    keeps the dict it is given, which the periodic scheduler fills again at each tick,
    so a tick's job not run yet would take the next tick's timestamp."""

    async def defer_jobs_all(self, jobs: list[Any]) -> list[Any]:
        copied = [job._replace(args=copy.deepcopy(job.args)) for job in jobs]
        return list(await super().defer_jobs_all(copied))


class _Retries(procrastinate.BaseRetryStrategy):
    """A job's `retries` with their backoff; and a run its worker stopped as it shut down
    (its job cancelled past the graceful time) queued again at once, whatever its
    retries: the job did not fail, its worker left."""

    def __init__(self, retries: int, backoff: int) -> None:
        self.retries = retries
        self.backoff = procrastinate.RetryStrategy(max_attempts=retries, exponential_wait=backoff)

    def get_retry_decision(
        self, *, exception: BaseException, job: procrastinate.jobs.Job
    ) -> procrastinate.RetryDecision | None:
        # procrastinate asks only for a shutdown's abort, never for an admin's.
        if isinstance(exception, asyncio.CancelledError | procrastinate.exceptions.JobAborted):
            return procrastinate.RetryDecision(retry_in={"seconds": 0})
        if not self.retries:
            return None
        return self.backoff.get_retry_decision(exception=exception, job=job)


def _timed(
    function: Callable[..., Awaitable[None]], timeout: float
) -> Callable[..., Awaitable[None]]:
    """`function`, failing with `TimeoutError` past `timeout` seconds (procrastinate has
    no time limit of its own)."""

    async def run(**kwargs: Any) -> None:
        async with asyncio.timeout(timeout):
            await function(**kwargs)

    return run


@contextlib.contextmanager
def _answering() -> Iterator[None]:
    """procrastinate's database errors as `QueueUnavailable`."""
    try:
        yield
    except procrastinate.exceptions.ConnectorException as error:
        cause = error.__cause__ or error
        raise QueueUnavailable(f"the job queue's database does not answer: {cause}") from error


def _raised_by_sql(error: BaseException | None) -> bool:
    """Whether procrastinate's SQL refused the call (a `RAISE` in its functions)."""
    return error is not None and type(error.__cause__).__name__ == "RaiseException"


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text[:_ERROR_LENGTH]


def _keywords_only(args: tuple[Any, ...]) -> None:
    if args:
        raise TypeError("a job takes keyword arguments only (they are stored as JSON)")
