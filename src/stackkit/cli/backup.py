"""Back up and restore the app's database: the work behind `stackkit db backup` and `restore`.

PostgreSQL goes through `pg_dump --format=custom` and `pg_restore`; SQLite through
the online backup API of Python's `sqlite3`, which copies a consistent snapshot
while the app keeps running. Backups are named `<database>-YYYYmmdd-HHMMSS` (UTC)
with `.dump` (PostgreSQL) or `.sqlite3` (SQLite), so that they sort by age.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.engine import URL, make_url

from stackkit.settings import normalize_database_url

__all__ = ["BackupError", "backup", "database_label", "prune", "restore"]

#: Where Debian and Ubuntu install each PostgreSQL version's programs, when not on PATH.
POSTGRES_INSTALL_ROOT = Path("/usr/lib/postgresql")

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PG_DUMP_MAGIC = b"PGDMP"
_BACKUP_NAME = re.compile(r"^(?P<stem>.+)-(?P<stamp>\d{8}-\d{6})(?:-(?P<n>\d+))?(?P<ext>\.\w+)\Z")


class BackupError(click.ClickException):
    """A backup or restore cannot run, or failed: one line, exit 1."""


def backup(database_url: str, output_dir: Path, *, connect_timeout: float = 5.0) -> Path:
    """Write a backup of the database into `output_dir` (created if needed); return its path.

    The file appears only once complete, so an interrupted backup leaves nothing
    that looks like one.

    Raises:
        BackupError: pg_dump is missing or failed, or the database is in memory.
        OSError, sqlite3.Error: the file or the SQLite database cannot be read or written.
    """
    url = _parse(database_url)
    if _is_sqlite(url):
        source = _sqlite_path(url)
        if not source.is_file():
            raise BackupError(f"no SQLite database at {source}")
        output_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = _new_backup_path(output_dir, source.stem, ".sqlite3")
        partial = _private_file(target.with_name(f".{target.name}.partial"))
        try:
            with closing(sqlite3.connect(source)) as db, closing(sqlite3.connect(partial)) as out:
                db.backup(out)
                # One self-contained file: a copy of a WAL database would make
                # -wal and -shm files appear beside it whenever it is opened.
                out.execute("PRAGMA journal_mode=DELETE")
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    else:
        pg_dump = find_postgres_tool("pg_dump")
        output_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = _new_backup_path(output_dir, url.database or url.username or "postgres", ".dump")
        partial = _private_file(target.with_name(f".{target.name}.partial"))
        command = ["--format=custom", "--no-password", "--file", str(partial)]
        try:
            _run_postgres_tool(pg_dump, command, url, connect_timeout)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    partial.replace(target)
    return target


def _private_file(path: Path) -> Path:
    """Create `path` empty, readable by its owner only: a backup holds every password
    hash, and the writers (SQLite, pg_dump) would otherwise follow the umask."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    return path


def prune(written: Path, keep: int) -> list[Path]:
    """Delete the oldest backups of the same database as `written`, beyond the `keep`
    newest, in its folder; return the paths deleted."""
    match = _BACKUP_NAME.match(written.name)
    if match is None:
        return []
    same: list[tuple[tuple[str, int], Path]] = []
    for path in written.parent.iterdir():
        other = _BACKUP_NAME.match(path.name)
        if other and (other["stem"], other["ext"]) == (match["stem"], match["ext"]):
            same.append(((other["stamp"], int(other["n"] or 1)), path))
    old = [path for _, path in sorted(same)[:-keep]] if len(same) > keep else []
    for path in old:
        path.unlink()
    return old


def restore(database_url: str, file: Path, *, connect_timeout: float = 5.0) -> None:
    """Replace the database's content with the backup in `file`.

    On PostgreSQL, `pg_restore --clean --if-exists --no-owner` drops and
    recreates the objects the backup holds, in one transaction: if anything
    fails, nothing changes. Tables the backup does not know stay as they are.

    Raises:
        BackupError: `file` is missing or not a backup of this kind of database,
            pg_restore is missing or failed, or the database is in memory.
        OSError, sqlite3.Error: a file cannot be read or written.
    """
    url = _parse(database_url)
    if not file.is_file():
        raise BackupError(f"no backup file at {file}")
    with file.open("rb") as handle:
        header = handle.read(len(_SQLITE_MAGIC))
    if _is_sqlite(url):
        if not header.startswith(_SQLITE_MAGIC):
            raise BackupError(f"{file} is not a SQLite backup{_kind_hint(header)}")
        target = _sqlite_path(url)
        if target.exists() and target.resolve() == file.resolve():
            raise BackupError(f"{file} is the database itself, not a backup of it")
        with closing(sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)) as source:
            if not source.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone():
                raise BackupError(f"{file} is not a backup of a stackkit database (no migrations)")
            with closing(sqlite3.connect(target, timeout=connect_timeout)) as out:
                source.backup(out)
    else:
        if not header.startswith(_PG_DUMP_MAGIC):
            raise BackupError(
                f"{file} is not a PostgreSQL backup (pg_dump --format=custom){_kind_hint(header)}"
            )
        options = ["--clean", "--if-exists", "--no-owner", "--single-transaction", "--no-password"]
        pg_restore = find_postgres_tool("pg_restore")
        _run_postgres_tool(pg_restore, [*options, str(file)], url, connect_timeout)


def database_label(database_url: str) -> str:
    """The database as a user may see it: a SQLite file's path, or the URL without its password."""
    url = _parse(database_url)
    if _is_sqlite(url):
        return str(url.database or ":memory:")
    return url.set(drivername="postgresql").render_as_string(hide_password=True)


def find_postgres_tool(name: str) -> str:
    """The path of a PostgreSQL client program: on PATH, else the newest one installed
    under `/usr/lib/postgresql/*/bin`.

    Raises:
        BackupError: it is found nowhere.
    """
    found = shutil.which(name)
    if found is not None:
        return found

    def version(bin_dir: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))

    for bin_dir in sorted(POSTGRES_INSTALL_ROOT.glob("*/bin"), key=version, reverse=True):
        found = shutil.which(name, path=str(bin_dir))
        if found is not None:
            return found
    raise BackupError(
        f"{name} not found on PATH nor in {POSTGRES_INSTALL_ROOT}/*/bin: install PostgreSQL's "
        "client programs (the postgresql-client package)"
    )


def _run_postgres_tool(
    program: str, arguments: list[str], url: URL, connect_timeout: float
) -> None:
    """Run pg_dump or pg_restore on the database; the password goes in the environment,
    where neither `ps` nor an error message shows it."""
    name = Path(program).name
    password = url.password
    dbname = url.set(drivername="postgresql", password=None).render_as_string()
    environment = dict(os.environ, PGCONNECT_TIMEOUT=str(max(2, round(connect_timeout))))
    if password:
        environment["PGPASSWORD"] = str(password)
    completed = subprocess.run(  # noqa: S603 (a fixed program, arguments as a list)
        [program, *arguments, "--dbname", dbname],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        detail = " ".join(completed.stderr.split()).removeprefix(f"{name}: error: ")
        if password:
            detail = detail.replace(str(password), "********")
        raise BackupError(f"{name} failed: {detail or f'exit status {completed.returncode}'}")


def _parse(database_url: str) -> URL:
    return make_url(normalize_database_url(database_url))


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _sqlite_path(url: URL) -> Path:
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        raise BackupError("the database is in memory (DATABASE_URL): there is nothing to back up")
    return Path(database).resolve()


def _new_backup_path(directory: Path, stem: str, extension: str) -> Path:
    """`<stem>-YYYYmmdd-HHMMSS<ext>`, or `...-2<ext>`, `-3`, when taken in the same second."""
    stem = re.sub(r"[^\w.-]", "_", stem)
    name = f"{stem}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    path, count = directory / f"{name}{extension}", 1
    while path.exists():
        count += 1
        path = directory / f"{name}-{count}{extension}"
    return path


def _kind_hint(header: bytes) -> str:
    if header.startswith(_SQLITE_MAGIC):
        return " (it is a SQLite database, and DATABASE_URL is PostgreSQL)"
    if header.startswith(_PG_DUMP_MAGIC):
        return " (it is a PostgreSQL backup, and DATABASE_URL is SQLite)"
    return ""
