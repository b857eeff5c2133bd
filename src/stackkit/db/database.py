"""The SQL database of an app: engines for the primary and its read replicas, units of work.

    async with db.session() as session:                 # a write unit, on the primary
        session.add(note)
    async with db.session(read_only=True) as session:   # a read unit, on a replica if any
        notes = (await session.scalars(select(Note))).all()

A unit commits when its block ends and rolls back if the block raises. A read
unit goes to a replica (taking them in turn), skipping one that does not
answer, and to the primary when none does. Once a write unit has committed,
read units later in the same task (the same request) go to the primary, so a
request reads what it wrote whatever the replication lag.

Once a write unit has committed, the change listeners (`on_change`) are told
which tables it changed (`stackkit.db.changes`), before the unit's block
returns: the response cache drops what it kept of them before the request
that wrote can answer.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import AdaptedConnection
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, PoolResetState

from stackkit.backends import Backend
from stackkit.db.changes import tables_changed
from stackkit.db.cursor import CursorCodec
from stackkit.db.errors import (
    DatabaseUnavailable,
    ReadOnlyUnitError,
    is_read_only_violation,
    is_unavailable,
)
from stackkit.settings import normalize_database_url

__all__ = ["ChangeListener", "Database", "UnitSession", "read_from_primary"]

logger = logging.getLogger("stackkit.db")

# Set when a write unit commits; read units in the same task then use the primary.
_wrote_in_this_task: ContextVar[bool] = ContextVar("stackkit_db_wrote", default=False)
_SQLITE_BEGIN = "stackkit_sqlite_begin"
_LAST_USED = "stackkit_last_used"

ChangeListener = Callable[[frozenset[str]], Awaitable[None]]
"""Told the names of the tables a committed unit changed."""


def read_from_primary() -> None:
    """Send the read units of the current task (the request) to the primary, as after a
    write: what it reads is then up to date, whatever the replicas' lag."""
    _wrote_in_this_task.set(True)


class UnitSession(Session):
    """The sync session behind each unit's `AsyncSession`; it knows whether it wrote
    and refuses writes in a read-only unit."""

    read_only = False
    wrote = False


@event.listens_for(UnitSession, "before_flush")
def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    if not isinstance(session, UnitSession):
        return
    if session.read_only and (session.new or session.dirty or session.deleted):
        raise ReadOnlyUnitError("this unit of work is read-only: open it with db.session()")
    session.wrote = True


@event.listens_for(UnitSession, "do_orm_execute")
def _before_execute(state: ORMExecuteState) -> None:
    session = state.session
    if not isinstance(session, UnitSession) or not (
        state.is_insert or state.is_update or state.is_delete
    ):
        return
    if session.read_only:
        raise ReadOnlyUnitError("this unit of work is read-only: open it with db.session()")
    session.wrote = True


class Database(Backend):
    """Owns the engines of the primary database and its read replicas.

    Args:
        url: the primary's SQLAlchemy URL; plain `postgresql://` and `sqlite:///`
            are mapped to the async drivers (psycopg 3, aiosqlite).
        replica_urls: read replicas of the primary (PostgreSQL streaming replicas).
        connect_timeout: seconds before a server that does not answer counts as down
            (on SQLite, how long a write waits for another writer's lock).
        statement_timeout: seconds a PostgreSQL statement may run before it is cancelled.
        pool_size: connections kept per engine.
        max_overflow: connections allowed per engine beyond `pool_size`.
        pool_timeout: seconds a unit waits for a free connection before a 503.
        replica_retry_after: seconds a replica that failed is skipped before it is tried again.
        ping_idle_after: seconds a pooled connection to the primary may sit unused
            before it is pinged (one round trip) as it is taken from the pool; 0 pings
            every time. One used this recently is very likely alive, and a dead one
            found in use is dropped with the rest of the pool (a 503 for that request).
            Replicas' connections are pinged every time. Not used on SQLite.
        cursor_secret: signs the page cursors of repositories (the app's `SECRET_KEY`);
            omitted, a random key for this process.
    """

    name = "database"

    def __init__(
        self,
        url: str,
        *,
        replica_urls: Sequence[str] = (),
        connect_timeout: float = 5.0,
        statement_timeout: float = 30.0,
        pool_size: int = 10,
        max_overflow: int = 10,
        pool_timeout: float = 5.0,
        replica_retry_after: float = 5.0,
        ping_idle_after: float = 1.0,
        cursor_secret: str | None = None,
        echo: bool = False,
    ) -> None:
        self.url = normalize_database_url(url)
        self.replica_urls = [normalize_database_url(u) for u in replica_urls]
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout
        self.pool_size = pool_size
        self.max_overflow = max_overflow
        self.pool_timeout = pool_timeout
        self.replica_retry_after = replica_retry_after
        self.ping_idle_after = ping_idle_after
        self.echo = echo
        self.cursors = CursorCodec(cursor_secret)
        self._primary: AsyncEngine | None = None
        self._replicas: list[AsyncEngine] = []
        self._replica_turn = itertools.count()
        self._replica_down_until: dict[int, float] = {}
        self._change_listeners: list[ChangeListener] = []

    def on_change(self, listener: ChangeListener) -> None:
        """Call `listener` with the names of the tables each write unit changed, once it
        has committed. A listener that raises is logged, never raised: the write is done."""
        self._change_listeners.append(listener)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def engine(self) -> AsyncEngine:
        """The primary's engine."""
        if self._primary is None:
            raise RuntimeError("Database is not open: use it inside the app's lifespan")
        return self._primary

    @property
    def replicas(self) -> list[AsyncEngine]:
        return list(self._replicas)

    async def open(self) -> None:
        if self._primary is None:
            self._primary = self._create_engine(self.url, ping_idle_after=self.ping_idle_after)
            # A replica's connections are pinged every time: one found dead sends the
            # read to the next replica or the primary, where a failed statement is a 503.
            self._replicas = [
                self._create_engine(url, ping_idle_after=0) for url in self.replica_urls
            ]

    async def close(self) -> None:
        engines = [e for e in (self._primary, *self._replicas) if e is not None]
        self._primary, self._replicas = None, []
        for engine in engines:
            await engine.dispose()

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def check(self) -> None:
        async with self.engine.connect() as connection:
            # A plain BEGIN on SQLite: a health check must not queue behind writers.
            await connection.execution_options(**{_SQLITE_BEGIN: "BEGIN"})
            await connection.execute(text("SELECT 1"))

    @contextlib.asynccontextmanager
    async def session(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """Open a unit of work: commit when the block ends, roll back if it raises.

        Raises:
            DatabaseUnavailable: the database did not answer, or not in time (503).
            ReadOnlyUnitError: a write in a unit opened with `read_only=True`.
        """
        try:
            if read_only:
                session = await self._read_session()
            else:
                session = self._new_session(self.engine, read_only=False)
            async with session:
                try:
                    yield session
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
            if not read_only:
                # Whatever it wrote (ORM or raw SQL), later reads of this task see it.
                _wrote_in_this_task.set(True)
                await self._tell_listeners(tables_changed(session.sync_session))
        except DBAPIError as error:
            if is_read_only_violation(error):
                raise ReadOnlyUnitError(
                    "this unit of work is read-only: open it with db.session()"
                ) from error
            if is_unavailable(error):
                logger.warning("Database unavailable: %s", error)
                raise DatabaseUnavailable() from error
            raise
        except PoolTimeoutError as error:
            logger.warning("No database connection free in time: %s", error)
            raise DatabaseUnavailable() from error

    async def _tell_listeners(self, tables: frozenset[str]) -> None:
        if not tables:
            return
        for listener in self._change_listeners:
            try:
                await listener(tables)
            except Exception:  # committed: the change must be answered, not turned into a 500
                logger.exception("A change listener failed for tables %s", sorted(tables))

    def _new_session(self, engine: AsyncEngine, *, read_only: bool) -> AsyncSession:
        # The database refuses writes in a read unit too, raw SQL included: PostgreSQL
        # begins it READ ONLY (no extra round trip), SQLite sets query_only.
        options: dict[str, Any]
        if self.is_sqlite:
            options = {_SQLITE_BEGIN: "BEGIN" if read_only else "BEGIN IMMEDIATE"}
        else:
            options = {"postgresql_readonly": True} if read_only else {}
        session = AsyncSession(
            engine,
            sync_session_class=UnitSession,
            expire_on_commit=False,
            execution_options=options,
        )
        sync_session = session.sync_session
        assert isinstance(sync_session, UnitSession)
        sync_session.read_only = read_only
        return session

    async def _read_session(self) -> AsyncSession:
        """A read-only session on a replica that answers, else on the primary."""
        if self._replicas and not _wrote_in_this_task.get():
            count = len(self._replicas)
            start = next(self._replica_turn)
            for index in ((start + k) % count for k in range(count)):
                if self._replica_down_until.get(index, 0.0) > time.monotonic():
                    continue
                session = self._new_session(self._replicas[index], read_only=True)
                try:
                    await session.connection()
                except Exception as error:
                    await session.close()
                    if not is_unavailable(error):
                        raise
                    logger.warning("Read replica %d unavailable, skipping it: %s", index, error)
                    # From now, not from before the attempt, which may have taken as long.
                    self._replica_down_until[index] = time.monotonic() + self.replica_retry_after
                    continue
                return session
        return self._new_session(self.engine, read_only=True)

    def _create_engine(self, url: str, *, ping_idle_after: float) -> AsyncEngine:
        options: dict[str, Any] = {"echo": self.echo}
        if self.is_sqlite:
            options["connect_args"] = {"timeout": self.connect_timeout}
            options["pool_reset_on_return"] = None  # the reset event below does it
            if ":memory:" in url or "mode=memory" in url:
                # One connection kept, or every checkout would see a new, empty database;
                # taken by one unit at a time, or one unit's rollback would undo another's
                # writes on it. Others wait for it as for a busy pool (a 503 after
                # `pool_timeout`).
                options.update(
                    poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0,
                    pool_timeout=self.pool_timeout,
                )  # fmt: skip
        else:
            timeout_ms = round(self.statement_timeout * 1000)
            options["connect_args"] = {
                "connect_timeout": max(1, round(self.connect_timeout)),
                "options": f"-c statement_timeout={timeout_ms}",
            }
            options.update(
                pool_size=self.pool_size,
                max_overflow=self.max_overflow,
                pool_timeout=self.pool_timeout,
                pool_recycle=1800,
            )
        engine = create_async_engine(url, **options)
        if self.is_sqlite:
            # A file does not hang up: its connections are never pinged.
            _configure_sqlite(engine, wal=":memory:" not in url)
        else:
            _ping_when_idle(engine, ping_idle_after)
        return engine


def _ping_when_idle(engine: AsyncEngine, idle_after: float) -> None:
    """Ping a connection taken from the pool only if it sat unused for `idle_after`
    seconds: under load, connections go round in milliseconds, and a ping on every
    checkout (SQLAlchemy's `pool_pre_ping`) would add a round trip to every unit."""
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        last_used = record.info.get(_LAST_USED)
        if last_used is None or time.monotonic() - last_used < idle_after:
            return  # just connected, or in use a moment ago
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            alive = False
        if not alive:
            # The pool drops this connection and takes another (or a new one).
            raise DisconnectionError("the pooled connection did not answer a ping")


def _configure_sqlite(engine: AsyncEngine, *, wal: bool) -> None:
    """Foreign keys on, WAL, and transactions stackkit begins itself.

    pysqlite begins transactions lazily and in DEFERRED mode, so two writers that
    first read can deadlock on the lock upgrade. stackkit takes the driver's
    transaction handling off and begins write units with BEGIN IMMEDIATE instead.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")  # the busy timeout is the connect timeout
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(
        dbapi_connection: Any, record: ConnectionPoolEntry, state: PoolResetState
    ) -> None:
        # What the pool's rollback on return would do, without the trip to the driver's
        # thread when the unit already ended its transaction (most do: they commit).
        if state.terminate_only or not state.asyncio_safe:
            return
        try:
            in_transaction = bool(dbapi_connection.driver_connection.in_transaction)
        except (ValueError, sqlite3.Error):  # closed: the rollback knows what to do
            in_transaction = True
        if in_transaction:
            dbapi_connection.rollback()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        begin = connection.get_execution_options().get(_SQLITE_BEGIN, "BEGIN IMMEDIATE")
        # A read unit (plain BEGIN) refuses writes, raw SQL included; query_only is set
        # before BEGIN, since it also refuses BEGIN IMMEDIATE. Both go to the driver's
        # thread in one script: each statement SQLAlchemy runs there costs three trips.
        script = f"PRAGMA query_only={int(begin == 'BEGIN')}; {begin}"
        driver = connection.connection.dbapi_connection
        assert isinstance(driver, AdaptedConnection)
        try:
            driver.run_async(lambda sqlite: sqlite.executescript(script))
        except sqlite3.Error as error:  # as SQLAlchemy raises it, for the 503 of a lock
            raise DBAPIError.instance(script, None, error, sqlite3.Error) from error
