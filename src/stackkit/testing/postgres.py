"""A throwaway PostgreSQL server, and fresh databases on any PostgreSQL server."""

from __future__ import annotations

import os
import pwd
import re
import signal
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple
from urllib.parse import quote, urlsplit, urlunsplit

from stackkit.testing.process import ServerProcess
from stackkit.testing.services import ServiceUnavailable, find_binary, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

    import psycopg

__all__ = [
    "PostgresProcess",
    "PostgresReplica",
    "PostgresReplication",
    "create_database",
    "database_url",
    "drop_database",
    "temporary_database",
]

#: Where Debian and Ubuntu install each major version's server binaries.
POSTGRES_INSTALL_ROOT = Path("/usr/lib/postgresql")

_SUPERUSER = "postgres"
_MAX_WAL_SENDERS = 10
_DRIVER_SUFFIX = re.compile(r"^(postgres(?:ql)?)\+\w+://")


class PostgresProcess(ServerProcess):
    """A throwaway PostgreSQL server listening on 127.0.0.1, with trust authentication.

    Binaries are looked up on PATH, then in the highest version under
    ``/usr/lib/postgresql/*/bin``. PostgreSQL refuses to run as root, so under
    root the server runs as the ``postgres`` system user. Durability is
    switched off (``fsync``, ``synchronous_commit``, ``full_page_writes``):
    the data lives only as long as the process. It is ready to serve a
    :class:`PostgresReplica` (``wal_level=replica``, replication connections
    from 127.0.0.1 trusted).

    Example:
        >>> with PostgresProcess() as server:  # doctest: +SKIP
        ...     url = create_database(server.url)
    """

    name = "postgres"
    stop_signal: ClassVar[signal.Signals] = signal.SIGINT  # "fast" shutdown

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/postgres``."""
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @classmethod
    def locate(cls) -> None:
        """Check that ``initdb`` and ``postgres`` exist and that a user may run them.

        Raises:
            ServiceUnavailable: naming what is missing.
        """
        cls.bin_dir()
        _server_user()

    @classmethod
    def bin_dir(cls) -> Path:
        """The folder holding ``initdb`` and ``postgres``.

        Raises:
            ServiceUnavailable: when there is none.
        """
        try:
            initdb = Path(find_binary("initdb", extra_dirs=_installed_bin_dirs()))
        except ServiceUnavailable:
            raise ServiceUnavailable(
                f"initdb not found on PATH or in {POSTGRES_INSTALL_ROOT}/*/bin"
            ) from None
        if not os.access(initdb.parent / "postgres", os.X_OK):
            raise ServiceUnavailable(f"postgres not found next to {initdb}")
        return initdb.parent

    def _prepare(self, directory: Path) -> None:
        _give_to_server_user(directory)
        data = directory / "data"
        command = [str(self.bin_dir() / "initdb"), "-D", str(data)]
        command += ["-A", "trust", "-U", _SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync"]
        self._run(command, directory)
        _allow_replication(data / "pg_hba.conf")

    def _command(self, directory: Path, port: int) -> list[str]:
        command = [str(self.bin_dir() / "postgres"), "-D", str(directory / "data")]
        command += ["-p", str(port), "-k", str(directory)]
        for setting in self._settings():
            command += ["-c", setting]
        return command

    def _settings(self) -> list[str]:
        return [
            "listen_addresses=127.0.0.1",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
            # Ready to serve a PostgresReplica; also PostgreSQL's defaults since version 10.
            "wal_level=replica",
            f"max_wal_senders={_MAX_WAL_SENDERS}",
        ]

    def _run(self, command: list[str], directory: Path) -> None:
        """Run a PostgreSQL tool to its end as the server's user, or raise ServiceUnavailable."""
        tool = Path(command[0]).name
        try:
            # A located binary and our own options, no shell.
            result = subprocess.run(  # noqa: S603
                command,
                cwd=directory,
                capture_output=True,
                check=False,
                timeout=self.startup_timeout,
                **self._popen_options(),
            )
        except subprocess.TimeoutExpired:
            raise ServiceUnavailable(
                f"{tool} did not finish within {self.startup_timeout:g} s"
            ) from None
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")
            raise ServiceUnavailable(f"{tool} failed with code {result.returncode}:\n{output}")

    def _answers(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.url, connect_timeout=1).close()
        except psycopg.OperationalError:
            return False
        return True

    def _popen_options(self) -> dict[str, Any]:
        user = _server_user()
        if user is None:
            return {}
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


class PostgresReplica(PostgresProcess):
    """A throwaway hot-standby replica of a running :class:`PostgresProcess`, streaming its WAL.

    At its first start the replica's folder is filled with a base backup of
    the primary (``pg_basebackup -R -X stream``), so the primary must be
    running then; the replica then runs ``postgres`` in hot-standby mode on a
    port of its own: it answers read-only queries and refuses writes.
    Replication is asynchronous: a row committed on the primary shows up on
    the replica a moment later; :meth:`wait_for_replay` waits for it.

    ``stop(keep_data=True)`` then ``start()`` bring the replica back on the
    same URL, streaming from where it stopped; after a plain ``stop()`` a
    ``start()`` takes a fresh base backup. Stop the replica before its primary.

    Example:
        >>> with PostgresProcess() as primary:  # doctest: +SKIP
        ...     with PostgresReplica(primary) as replica:
        ...         db = Database(primary.url, replica_urls=[replica.url])
    """

    name = "postgres-replica"

    def __init__(self, primary: PostgresProcess, port: int | None = None) -> None:
        """Prepare a replica of ``primary`` on ``port``, or on a free port picked at first start."""
        super().__init__(port)
        #: The server this one replicates.
        self.primary = primary

    @classmethod
    def locate(cls) -> None:
        """Check that ``initdb``, ``postgres`` and ``pg_basebackup`` exist and may be run.

        Raises:
            ServiceUnavailable: naming what is missing.
        """
        super().locate()
        cls._basebackup()

    def wait_for_replay(self, timeout: float = 10.0) -> None:
        """Wait until the replica has replayed everything written on the primary so far.

        Raises:
            ServiceUnavailable: when it has not within ``timeout`` seconds.
            psycopg.Error: when the primary or the replica cannot be reached.
        """
        import psycopg

        # A record of our own, after everything written so far: its end is where replay must
        # reach. (The insert position itself may lie past a page or segment header that the
        # replay position only passes once more WAL comes.)
        with psycopg.connect(self.primary.url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT pg_logical_emit_message(false, 'stackkit', 'replay mark')::text"
            ).fetchone()
        assert row is not None
        written: str = row[0]

        def replayed() -> bool:
            with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                query = "SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)"
                done = conn.execute(query, [written]).fetchone()
            return done == (True,)

        wait_until(
            replayed,
            timeout=timeout,
            description=f"{self.name} on port {self.port} did not replay the primary's WAL",
        )

    @classmethod
    def _basebackup(cls) -> Path:
        """``pg_basebackup`` of the same installation as ``initdb``, else the first one found."""
        beside = (cls.bin_dir() / "initdb").resolve().parent / "pg_basebackup"
        if os.access(beside, os.X_OK):
            return beside
        try:
            return Path(find_binary("pg_basebackup", extra_dirs=_installed_bin_dirs()))
        except ServiceUnavailable:
            raise ServiceUnavailable(
                f"pg_basebackup not found on PATH or in {POSTGRES_INSTALL_ROOT}/*/bin"
            ) from None

    def _prepare(self, directory: Path) -> None:
        if not self.primary.running:
            raise RuntimeError(f"start the primary before its replica: {self.primary!r}")
        _give_to_server_user(directory)
        command = [str(self._basebackup()), "-h", "127.0.0.1", "-p", str(self.primary.port)]
        command += ["-U", _SUPERUSER, "-D", str(directory / "data"), "-R", "-X", "stream"]
        # An immediate checkpoint: the default, spread one can keep the backup waiting.
        command += ["--checkpoint=fast", "--no-sync"]
        self._run(command, directory)

    def _settings(self) -> list[str]:
        return [*super()._settings(), "hot_standby=on"]


class PostgresReplication(NamedTuple):
    """A throwaway primary and its streaming replica, as the ``postgres_replication`` fixture
    gives them."""

    primary: PostgresProcess
    replica: PostgresReplica


def database_url(server_url: str, name: str) -> str:
    """Return ``server_url`` pointing at database ``name`` instead.

    A SQLAlchemy-style scheme such as ``postgresql+psycopg://`` comes back as
    plain ``postgresql://``.
    """
    parts = urlsplit(_plain_url(server_url))
    return urlunsplit(parts._replace(path="/" + quote(name, safe="")))


def create_database(server_url: str, *, name: str | None = None) -> str:
    """Create an empty database on the server and return its URL.

    Args:
        server_url: URL of any database on the server, as a user allowed to
            create databases.
        name: the new database's name; by default a unique
            ``stackkit_test_<hex>``, so concurrent runs (and pytest-xdist
            workers) never collide.

    Raises:
        psycopg.Error: when the server refuses, or cannot be reached.
    """
    from psycopg import sql

    name = name or _unique_name()
    with _autocommit(server_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting whoever still uses it.

    Raises:
        psycopg.Error: when the server refuses, or cannot be reached.
    """
    from psycopg import sql

    with _autocommit(server_url) as conn:
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(statement.format(sql.Identifier(name)))


@contextmanager
def temporary_database(server_url: str) -> Iterator[str]:
    """Create a fresh database for the duration of a ``with`` block; yield its URL."""
    name = _unique_name()
    url = create_database(server_url, name=name)
    try:
        yield url
    finally:
        drop_database(server_url, name)


def _unique_name() -> str:
    return f"stackkit_test_{uuid.uuid4().hex[:16]}"


def _autocommit(url: str) -> psycopg.Connection[Any]:
    import psycopg

    return psycopg.connect(_plain_url(url), autocommit=True, connect_timeout=10)


def _plain_url(url: str) -> str:
    return _DRIVER_SUFFIX.sub(r"\1://", url)


def _installed_bin_dirs() -> list[Path]:
    def version(bin_dir: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))

    return sorted(POSTGRES_INSTALL_ROOT.glob("*/bin"), key=version, reverse=True)


def _give_to_server_user(directory: Path) -> None:
    """Hand the server's (new, empty) folder to the user it runs as, when that is not us."""
    user = _server_user()
    if user is not None:
        os.chown(directory, user.pw_uid, user.pw_gid)


def _allow_replication(hba_file: Path) -> None:
    """Let replication connections from 127.0.0.1 in without a password.

    ``initdb -A trust`` writes this rule already (PostgreSQL 10 and later); it is
    added only if missing, so that a replica can take its base backup anyway.
    """
    rule = ["host", "replication", "all", "127.0.0.1/32", "trust"]
    lines = hba_file.read_text().splitlines()
    if not any(line.split() == rule for line in lines):
        with hba_file.open("a") as hba:
            hba.write("\n" + "    ".join(rule) + "\n")


def _server_user() -> pwd.struct_passwd | None:
    """The user to run PostgreSQL as: None for the current user, unless that is root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(_SUPERUSER)
    except KeyError:
        raise ServiceUnavailable(
            f"PostgreSQL refuses to run as root and there is no {_SUPERUSER!r} user to run it as"
        ) from None
