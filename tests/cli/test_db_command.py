"""`stackkit db`: migrations, seeding, backup and restore, on SQLite and PostgreSQL,
and the one-line errors of every command.

Alembic's online commands run an event loop of their own, so the tests are synchronous.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import stat
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from stackkit.cli import backup as backups
from stackkit.cli.db import db_group
from stackkit.settings import normalize_database_url
from stackkit.testing import (
    create_database,
    delete_keys,
    drop_database,
    find_free_port,
    skip_or_fail,
    unique_key_prefix,
)
from tests.cli.conftest import DemoProject

MakeProject = Callable[[str], DemoProject]
Rows = list[tuple[Any, ...]]

SEED = """
from sqlalchemy import insert

from stackkit.db import Database

from {package}.models import Article


async def seed(db: Database) -> None:
    async with db.session() as session:
        await session.execute(insert(Article), [{{"title": "first"}}, {{"title": "second"}}])
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A SQLite file in the project (a relative URL, as `.env` files have it), or a
    PostgreSQL database of the test's own."""
    if request.param == "sqlite":
        yield "sqlite:///./app.db"
        return
    server_url = request.getfixturevalue("postgres_server_url")
    url = create_database(server_url)
    try:
        yield url
    finally:
        drop_database(server_url, url.rsplit("/", 1)[1])


@pytest.fixture
def project(make_project: MakeProject, database_url: str) -> DemoProject:
    return make_project(database_url)


@pytest.fixture
def migrated(project: DemoProject) -> DemoProject:
    """The project with its first revision applied and two articles."""
    assert invoke("revision", "-m", "create articles").exit_code == 0
    assert invoke("upgrade").exit_code == 0
    execute(project.database_url, "INSERT INTO articles (id, title) VALUES (1, 'a'), (2, 'b')")
    return project


def invoke(*arguments: str, input: str | None = None) -> Result:
    return CliRunner().invoke(db_group, list(arguments), input=input)


def assert_one_line_error(result: Result, *fragments: str) -> str:
    """A non-zero exit with `Error: ...` on one line, no exception escaped."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def _engine_url(url: str) -> str:
    # Synchronous drivers: pysqlite, psycopg 3.
    return normalize_database_url(url).replace("sqlite+aiosqlite", "sqlite")


def execute(url: str, *statements: str) -> None:
    engine = create_engine(_engine_url(url), poolclass=NullPool)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


def articles(url: str) -> Rows:
    engine = create_engine(_engine_url(url), poolclass=NullPool)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, title FROM articles ORDER BY id"))
        result = [tuple(row) for row in rows]
    engine.dispose()
    return result


def tables(url: str) -> set[str]:
    engine = create_engine(_engine_url(url), poolclass=NullPool)
    with engine.connect() as connection:
        names = set(inspect(connection).get_table_names())
    engine.dispose()
    return names


def revision_id(script: Path) -> str:
    match = re.search(r"^revision: str = '(\w+)'", script.read_text(), re.MULTILINE)
    assert match is not None
    return match[1]


def row_of(history: str, revision: str) -> str:
    """The line of `revision` in the output of `history`."""
    return next(line for line in history.splitlines() if line.split()[:1] == [revision])


# Migrations


def test_revision_upgrade_current_history_and_downgrade(project: DemoProject) -> None:
    result = invoke("revision", "--autogenerate", "-m", "create articles")
    assert result.exit_code == 0, result.output
    script = project.root / result.output.strip()
    assert script.parent == project.root / "migrations" / "versions"
    assert "op.create_table" in script.read_text()
    head = revision_id(script)
    assert invoke("current").output.strip() == "base (no revision applied)"

    result = invoke("upgrade")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Database at {head} (head)"
    assert "articles" in tables(project.database_url)
    assert invoke("current").output.strip() == f"{head} (head)"

    result = invoke("revision", "--autogenerate", "-m", "nothing")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("No changes")
    assert len(list(script.parent.glob("*.py"))) == 1

    result = invoke("history")
    assert result.exit_code == 0, result.output
    row = row_of(result.output, head)
    assert "create articles" in row
    assert "base" in row
    assert "head, current" in row

    result = invoke("downgrade")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Database at base (no revision applied)"
    assert "articles" not in tables(project.database_url)
    assert "current" not in row_of(invoke("history").output, head)


def test_empty_revisions_chain_and_history_lists_them_newest_first(
    make_project: MakeProject,
) -> None:
    project = make_project("sqlite:///./app.db")
    assert invoke("history").output.startswith("No revisions yet")
    first = invoke("revision", "--empty", "-m", "backfill titles").output.strip()
    second = invoke("revision", "--empty", "-m", "second step").output.strip()
    assert "def upgrade() -> None:\n    pass" in (project.root / second).read_text()
    assert invoke("upgrade", revision_id(project.root / first)).exit_code == 0

    output = invoke("history").output
    new, old = revision_id(project.root / second), revision_id(project.root / first)
    assert output.index(new) < output.index(old)
    assert row_of(output, new).rstrip().endswith("head")
    assert row_of(output, old).rstrip().endswith("current")

    # `-1` is a revision, as with Alembic, not an unknown option.
    assert invoke("downgrade", "-1").output.strip() == "Database at base (no revision applied)"
    assert_one_line_error(invoke("downgrade"), "nothing to downgrade: no revision is applied")


# Seed


def test_seed_calls_the_seed_function_with_the_database(migrated: DemoProject) -> None:
    execute(migrated.database_url, "DELETE FROM articles")
    migrated.write("seed", SEED.format(package=migrated.package))
    result = invoke("seed")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Seeded the database with {migrated.package}.seed"
    assert [title for _, title in articles(migrated.database_url)] == ["first", "second"]


def test_seed_falls_back_on_a_main_function(make_project: MakeProject) -> None:
    project = make_project("sqlite:///./app.db")
    project.write("seed", "def main() -> None:\n    open('seeded', 'w').close()\n")
    result = invoke("seed")
    assert result.exit_code == 0, result.output
    assert (project.root / "seeded").is_file()  # run in the project's folder


def test_seed_without_a_seed_module_fails_in_one_line(make_project: MakeProject) -> None:
    project = make_project("sqlite:///./app.db")
    assert_one_line_error(invoke("seed"), f"create {project.package}/seed.py")
    project.write("seed", "VALUE = 1\n")
    assert_one_line_error(invoke("seed"), "defines neither `async def seed(db)` nor `def main()`")
    project.write("seed", "import no_such_dependency\n")
    assert_one_line_error(invoke("seed"), "cannot import", "No module named 'no_such_dependency'")


# Backup and restore


def test_backup_then_restore_brings_the_data_back(migrated: DemoProject) -> None:
    before = articles(migrated.database_url)
    previous_umask = os.umask(0o022)  # the common one: files readable by everyone
    try:
        result = invoke("backup")
    finally:
        os.umask(previous_umask)
    assert result.exit_code == 0, result.output
    written = migrated.root / result.output.strip()
    name = make_url(migrated.database_url).database or ""
    stem, extension = ("app", "sqlite3") if "sqlite" in migrated.database_url else (name, "dump")
    assert re.fullmatch(rf"backups/{stem}-\d{{8}}-\d{{6}}\.{extension}", result.output.strip())
    assert written.is_file()
    # It holds every password hash: its owner's only, whatever the umask.
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(written.parent.stat().st_mode) == 0o700

    execute(
        migrated.database_url,
        "DELETE FROM articles WHERE id = 1",
        "UPDATE articles SET title = 'changed' WHERE id = 2",
        "INSERT INTO articles (id, title) VALUES (3, 'new')",
    )
    assert articles(migrated.database_url) != before
    result = invoke("restore", str(written), "--yes")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Restored ")
    assert articles(migrated.database_url) == before


def test_restore_asks_first_and_no_changes_nothing(migrated: DemoProject) -> None:
    written = invoke("backup").output.strip()
    execute(migrated.database_url, "DELETE FROM articles")

    result = invoke("restore", written, input="n\n")
    assert result.exit_code == 1
    assert "Replace all the data of " in result.output
    assert "Aborted" in result.output
    assert articles(migrated.database_url) == []

    result = invoke("restore", written, input="y\n")
    assert result.exit_code == 0, result.output
    assert articles(migrated.database_url) == [(1, "a"), (2, "b")]


def test_keep_deletes_the_oldest_backups_of_the_database(migrated: DemoProject) -> None:
    saved = migrated.root / "saved"
    saved.mkdir()
    (saved / "other-20200101-000000.dump").write_bytes(b"another database's")
    outputs = [invoke("backup", "--output-dir", "saved", "--keep", "2").output for _ in range(3)]
    first, second, third = (output.splitlines()[0] for output in outputs)

    assert outputs[2].splitlines()[1:] == [f"Deleted {first}"]
    assert sorted(path.name for path in saved.iterdir()) == sorted(
        ["other-20200101-000000.dump", Path(second).name, Path(third).name]
    )


# Errors

DATABASE_COMMANDS = [
    ["upgrade"],
    ["downgrade"],
    ["revision", "-m", "x"],
    ["current"],
    ["history"],
    ["seed"],
    ["backup"],
]
EVERY_COMMAND = [*DATABASE_COMMANDS, ["restore", "backup.dump", "--yes"]]


@pytest.mark.parametrize("arguments", EVERY_COMMAND, ids=lambda arguments: arguments[0])
def test_outside_a_project_every_command_fails_in_one_line(
    arguments: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke(*arguments), "not inside a stackkit project")


def test_restore_refuses_a_missing_file(project: DemoProject) -> None:
    assert_one_line_error(invoke("restore", "backups/none.dump", "--yes"), "no backup file at")


def test_restore_refuses_a_file_of_the_wrong_kind(project: DemoProject, tmp_path: Path) -> None:
    text_file = tmp_path / "notes.dump"
    text_file.write_text("not a backup")
    sqlite_file = tmp_path / "app.sqlite3"
    with closing(sqlite3.connect(sqlite_file)) as connection:
        connection.execute("CREATE TABLE t (x INTEGER)")
    dump_file = tmp_path / "app.dump"
    dump_file.write_bytes(b"PGDMP" + bytes(100))

    if "sqlite" in project.database_url:
        expected, other, hint = "SQLite", dump_file, "(it is a PostgreSQL backup"
    else:
        expected, other, hint = "PostgreSQL", sqlite_file, "(it is a SQLite database"
    assert_one_line_error(invoke("restore", str(text_file), "--yes"), f"is not a {expected} backup")
    assert_one_line_error(invoke("restore", str(other), "--yes"), hint)


@pytest.mark.parametrize("command", ["upgrade", "downgrade"])
def test_an_unknown_revision_fails_in_one_line(migrated: DemoProject, command: str) -> None:
    assert_one_line_error(invoke(command, "nosuchrevision"), "nosuchrevision")


UNREACHABLE = "postgresql://app:S3cretPass@127.0.0.1:1/x"


@pytest.mark.parametrize("arguments", DATABASE_COMMANDS, ids=lambda arguments: arguments[0])
def test_an_unreachable_database_fails_in_one_line(
    make_project: MakeProject, arguments: list[str]
) -> None:
    project = make_project(UNREACHABLE)
    project.write("seed", SEED.format(package=project.package))
    if arguments == ["backup"] and shutil.which("pg_dump") is None:
        skip_or_fail("pg_dump is not on PATH")
    message = assert_one_line_error(invoke(*arguments), "127.0.0.1")
    assert "S3cretPass" not in message


def test_restore_into_an_unreachable_database_fails_in_one_line(migrated: DemoProject) -> None:
    written = invoke("backup").output.strip()
    sqlite = "sqlite" in migrated.database_url
    unreachable = "sqlite:///./missing/app.db" if sqlite else UNREACHABLE
    (migrated.root / ".env").write_text(f"DATABASE_URL={unreachable}\n")
    message = assert_one_line_error(invoke("restore", written, "--yes"))
    assert "unable to open database file" in message if sqlite else "127.0.0.1" in message
    assert "S3cretPass" not in message


def test_backup_without_pg_dump_says_so(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project = make_project(UNREACHABLE)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(backups, "POSTGRES_INSTALL_ROOT", tmp_path / "none")
    assert_one_line_error(invoke("backup"), "pg_dump not found on PATH")
    assert not (project.root / "backups").exists()


def test_backup_of_an_in_memory_database_is_refused(make_project: MakeProject) -> None:
    make_project("sqlite:///:memory:")
    assert_one_line_error(invoke("backup"), "in memory")


def test_a_project_without_migrations_says_so(make_project: MakeProject) -> None:
    project = make_project("sqlite:///./app.db")
    shutil.rmtree(project.root / "migrations")
    assert_one_line_error(invoke("upgrade"), "no migrations folder at migrations")


def test_invalid_settings_fail_without_a_traceback(make_project: MakeProject) -> None:
    make_project("mysql://db/app")
    result = invoke("current")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "DATABASE_URL: scheme 'mysql' is not supported" in result.output


def test_postgres_tools_off_path_are_found_in_the_newest_installed_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for version in ("9.6", "15", "16"):
        (tmp_path / version / "bin").mkdir(parents=True)
    for version in ("9.6", "15"):  # 16 has the server only
        program = tmp_path / version / "bin" / "pg_dump"
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(backups, "POSTGRES_INSTALL_ROOT", tmp_path)
    assert backups.find_postgres_tool("pg_dump") == str(tmp_path / "15" / "bin" / "pg_dump")


def test_restore_refuses_the_database_itself_and_foreign_files(
    make_project: MakeProject, tmp_path: Path
) -> None:
    project = make_project("sqlite:///./app.db")
    assert invoke("revision", "-m", "create articles").exit_code == 0
    assert invoke("upgrade").exit_code == 0
    database = project.root / "app.db"
    assert_one_line_error(invoke("restore", str(database), "--yes"), "is the database itself")
    foreign = tmp_path / "foreign.sqlite3"
    with closing(sqlite3.connect(foreign)) as connection:
        connection.execute("CREATE TABLE t (x INTEGER)")
    assert_one_line_error(invoke("restore", str(foreign), "--yes"), "not a backup of a stackkit")
    assert invoke("current").output.strip().endswith("(head)")  # nothing was replaced


# What the app remembers of the data before a restore


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_restore_without_redis_says_to_restart_the_app(migrated: DemoProject) -> None:
    written = invoke("backup").output.strip()
    result = invoke("restore", written, "--yes")
    assert result.exit_code == 0, result.output
    assert "Restart the running app now" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("keep", [False, True], ids=["default", "keep-store"])
def test_restore_deletes_the_apps_keys_in_redis(
    migrated: DemoProject, redis_url: str, monkeypatch: pytest.MonkeyPatch, keep: bool
) -> None:
    import redis

    prefix, other = unique_key_prefix(), unique_key_prefix()
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("STACKKIT_CACHE_PREFIX", prefix)
    written = invoke("backup").output.strip()
    with redis.Redis.from_url(redis_url) as client:
        client.set(f"{prefix}{{/api/notes}}:v", 3)
        client.set(f"{prefix}session:abc", b"x")
        client.set(f"{other}kept", b"y")
        try:
            result = invoke("restore", written, "--yes", *(["--keep-store"] if keep else []))
            assert result.exit_code == 0, result.output
            remaining = {k.decode() for k in client.scan_iter(match=f"{prefix}*")}
            assert client.get(f"{other}kept") == b"y"
        finally:
            delete_keys(redis_url, prefix)
            delete_keys(redis_url, other)
    if keep:
        assert len(remaining) == 2
        assert "--keep-store" in result.output
    else:
        assert remaining == set()
        assert "Deleted the app's 2 keys in Redis" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_restore_with_redis_away_says_what_remains(
    migrated: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{find_free_port()}/0")
    written = invoke("backup").output.strip()
    result = invoke("restore", written, "--yes")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    restored, error = result.output.strip().splitlines()
    assert restored.startswith("Restored ")
    assert error.startswith("Error: restored, but the app's keys in Redis were not deleted")
    assert "sessions from before the restore remain" in error
