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
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

from stackkit.testing.process import ServerProcess
from stackkit.testing.services import ServiceUnavailable, find_binary

if TYPE_CHECKING:
    from collections.abc import Iterator

    import psycopg

__all__ = [
    "PostgresProcess",
    "create_database",
    "database_url",
    "drop_database",
    "temporary_database",
]

#: Where Debian and Ubuntu install each major version's server binaries.
POSTGRES_INSTALL_ROOT = Path("/usr/lib/postgresql")

_SUPERUSER = "postgres"
_DRIVER_SUFFIX = re.compile(r"^(postgres(?:ql)?)\+\w+://")


class PostgresProcess(ServerProcess):
    """A throwaway PostgreSQL server listening on 127.0.0.1, with trust authentication.

    Binaries are looked up on PATH, then in the highest version under
    ``/usr/lib/postgresql/*/bin``. PostgreSQL refuses to run as root, so under
    root the server runs as the ``postgres`` system user. Durability is
    switched off (``fsync``, ``synchronous_commit``, ``full_page_writes``):
    the data lives only as long as the process.

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
        user = _server_user()
        if user is not None:
            os.chown(directory, user.pw_uid, user.pw_gid)
        command = [str(self.bin_dir() / "initdb"), "-D", str(directory / "data")]
        command += ["-A", "trust", "-U", _SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync"]
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
                f"initdb did not finish within {self.startup_timeout:g} s"
            ) from None
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")
            raise ServiceUnavailable(f"initdb failed with code {result.returncode}:\n{output}")

    def _command(self, directory: Path, port: int) -> list[str]:
        settings = [
            "listen_addresses=127.0.0.1",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
        ]
        command = [str(self.bin_dir() / "postgres"), "-D", str(directory / "data")]
        command += ["-p", str(port), "-k", str(directory)]
        for setting in settings:
            command += ["-c", setting]
        return command

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
