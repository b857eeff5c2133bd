"""Migrations end to end on SQLite and PostgreSQL: init, autogenerate, upgrade, downgrade.

Each test writes the app's models as a module in its own folder (the env.py that
`init_migrations` writes imports it), with a MetaData of its own so that the
tables of other tests stay out. Alembic's online commands run an event loop of
their own, so the tests are synchronous.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import stackkit
from stackkit.auth.tables import account_metadata
from stackkit.db.migrations import (
    MigrationError,
    alembic_config,
    current,
    database_url_for,
    downgrade,
    heads,
    init_migrations,
    revision,
    upgrade,
    upgrade_sql,
)
from stackkit.db.search_migrations import indexed_columns
from stackkit.files.table import files_metadata
from stackkit.jobs import JobQueue
from stackkit.settings import normalize_database_url

T = TypeVar("T")

MODELS_HEADER = """
from datetime import datetime

from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stackkit.db import UTCDateTime
from stackkit.db.model import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


metadata = Base.metadata
"""

ARTICLES_V1 = """
class Article(Base):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), server_default="draft")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
"""

# Adds a column, widens `title` and changes the default of `status`.
ARTICLES_V2 = """
class Article(Base):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), server_default="review")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    summary: Mapped[str | None] = mapped_column(String(300))
"""

# Searched by title; V2 widens it, which SQLite's batch mode does by copying the table.
SEARCHED_V1 = """
from stackkit.db.search import make_searchable


class SearchedNote(Base):
    __tablename__ = "searched_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))


make_searchable(SearchedNote.__table__, ["title"])
"""
SEARCHED_V2 = SEARCHED_V1.replace(
    "    title: Mapped[str] = mapped_column(String(100))\n",
    "    title: Mapped[str] = mapped_column(String(200))\n"
    "    summary: Mapped[str | None] = mapped_column(String(300))\n",
)

# A decorator whose DDL depends on the database cannot be written as its impl.
CUSTOM_TYPE = """
from typing import Any

from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator, TypeEngine


class Code(TypeDecorator[str]):
    impl = String(10)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(Text() if dialect.name == "sqlite" else String(10))


class Voucher(Base):
    __tablename__ = "vouchers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(Code())
"""


@dataclass
class Project:
    """An app's migrations folder, its models module and the database it migrates."""

    root: Path
    module: str
    url: str
    config: Config

    @property
    def versions(self) -> list[Path]:
        return sorted((self.root / "migrations" / "versions").glob("*.py"))

    def write_models(self, *tables: str) -> None:
        source = MODELS_HEADER + "".join(textwrap.dedent(table) for table in tables)
        (self.root / f"{self.module}.py").write_text(source, encoding="utf-8")
        sys.modules.pop(self.module, None)  # env.py imports it afresh

    def table(self, name: str) -> dict[str, Any] | None:
        """Columns, unique constraints and indexes of a table as the database has it."""
        return asyncio.run(_on(self.url, _describe, name))


@pytest.fixture
def project(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Project]:
    module = f"migration_models_{uuid.uuid4().hex[:12]}"
    monkeypatch.syspath_prepend(str(tmp_path))
    # Models are rewritten within a second: no stale bytecode of the older version.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    init_migrations(tmp_path / "migrations", metadata=f"{module}:metadata")
    config = alembic_config(tmp_path / "migrations", database_url)
    project = Project(root=tmp_path, module=module, url=database_url, config=config)
    project.write_models(ARTICLES_V1)
    yield project
    sys.modules.pop(module, None)


def test_autogenerated_revisions_create_and_alter_tables_and_downgrade_undoes_them(
    project: Project,
) -> None:
    first = revision(project.config, "create articles")
    assert first is not None
    script = first.read_text()
    assert "sa.DateTime(timezone=True)" in script  # UTCDateTime, written as its impl
    assert "stackkit" not in script
    assert current(project.config) == ()

    upgrade(project.config)
    articles = project.table("articles")
    assert articles is not None
    assert set(articles["columns"]) == {"id", "slug", "title", "status", "published_at"}
    assert articles["columns"]["title"]["type"].length == 100
    assert "uq_articles_slug" in articles["unique"]
    assert current(project.config) == heads(project.config)

    project.write_models(ARTICLES_V2)
    second = revision(project.config, "add summary")
    assert second is not None
    script = second.read_text()
    assert ("batch_alter_table" in script) == project.url.startswith("sqlite")
    upgrade(project.config)
    articles = project.table("articles")
    assert articles is not None
    assert "summary" in articles["columns"]
    assert articles["columns"]["title"]["type"].length == 200
    assert "review" in str(articles["columns"]["status"]["default"])
    assert "uq_articles_slug" in articles["unique"]  # kept through SQLite's table copy

    downgrade(project.config)
    articles = project.table("articles")
    assert articles is not None
    assert "summary" not in articles["columns"]
    assert articles["columns"]["title"]["type"].length == 100
    assert "draft" in str(articles["columns"]["status"]["default"])

    downgrade(project.config, "base")
    assert project.table("articles") is None
    assert current(project.config) == ()


def test_a_migration_that_copies_a_searched_table_leaves_its_index_following_the_rows(
    project: Project,
) -> None:
    project.write_models(SEARCHED_V1)
    revision(project.config, "create searched notes")
    upgrade(project.config)
    asyncio.run(_on(project.url, _write, "INSERT INTO searched_notes (title) VALUES ('old')"))
    project.write_models(SEARCHED_V2)
    second = revision(project.config, "add summary")
    assert second is not None
    script = second.read_text()
    assert ("batch_alter_table" in script) == project.url.startswith("sqlite")
    # A data migration after the copy, as a hand-written one would do.
    second.write_text(
        script.replace(
            "    # ### end Alembic commands ###",
            "    op.execute(\"UPDATE searched_notes SET title = 'renamed'\")\n"
            "    # ### end Alembic commands ###",
            1,
        )
    )
    upgrade(project.config)
    # On SQLite the copy dropped the index's triggers; the upgrade made them again
    # and refilled the index, for good.
    assert asyncio.run(_on(project.url, indexed_columns, "searched_notes")) == ("title",)
    if project.url.startswith("sqlite"):
        match = "SELECT rowid FROM searched_notes_search WHERE searched_notes_search MATCH :word"
        for word, rows in (("renamed", [1]), ("old", [])):
            found = asyncio.run(_on(project.url, _rows, match, {"word": word}))
            assert found == rows, word


USERS = """
from stackkit.auth import UserMixin


class Account(UserMixin, Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
"""


def test_a_user_table_from_the_auth_mixin_migrates(project: Project) -> None:
    project.write_models(ARTICLES_V1, USERS)
    script = revision(project.config, "create accounts")
    assert script is not None
    upgrade(project.config)
    accounts = project.table("accounts")
    assert accounts is not None
    assert set(accounts["columns"]) == {
        "id", "email", "password_hash", "is_active", "roles", "last_login_at",
        "password_changed_at",
    }  # fmt: skip
    assert "uq_accounts_email" in accounts["unique"]
    downgrade(project.config, "base")
    assert project.table("accounts") is None


def test_autogenerate_without_changes_writes_no_revision(project: Project) -> None:
    revision(project.config, "create articles")
    upgrade(project.config)

    assert revision(project.config, "nothing changed") is None
    # The env.py hook does the same for `alembic revision --autogenerate`.
    project.config.cmd_opts = argparse.Namespace(autogenerate=True)
    command.revision(project.config, "nothing changed", autogenerate=True)

    assert len(project.versions) == 1


def test_revision_without_autogenerate_writes_an_empty_script(project: Project) -> None:
    written = revision(project.config, "backfill slugs", autogenerate=False)

    assert written is not None
    assert "def upgrade() -> None:\n    pass" in written.read_text()


def test_offline_mode_renders_sql_and_leaves_the_database_alone(project: Project) -> None:
    revision(project.config, "create articles")

    sql = upgrade_sql(project.config)

    assert "CREATE TABLE articles" in sql
    assert "CONSTRAINT uq_articles_slug UNIQUE (slug)" in sql
    timestamp = "DATETIME" if project.url.startswith("sqlite") else "TIMESTAMP WITH TIME ZONE"
    assert f"published_at {timestamp} NOT NULL" in sql
    assert "INSERT INTO alembic_version" in sql
    assert project.table("articles") is None
    assert current(project.config) == ()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_types_with_per_database_ddl_are_written_with_their_import(project: Project) -> None:
    project.write_models(CUSTOM_TYPE)

    written = revision(project.config, "create vouchers")
    upgrade(project.config)

    assert written is not None
    script = written.read_text()
    assert f"import {project.module}\n" in script
    assert f"{project.module}.Code(" in script
    assert project.table("vouchers") is not None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_database_url_defaults_to_the_app_setting(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)  # no .env of the repository
    monkeypatch.setenv("DATABASE_URL", project.url)
    config = alembic_config(project.root / "migrations")
    revision(config, "create articles")

    upgrade(config)

    assert project.table("articles") is not None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_async_code_runs_commands_through_a_thread(project: Project) -> None:
    with pytest.raises(MigrationError, match="to_thread"):
        current(project.config)

    assert await asyncio.to_thread(current, project.config) == ()


def test_alembic_config_keeps_percent_signs_of_the_url(tmp_path: Path) -> None:
    config = alembic_config(tmp_path, "postgresql://app:p%40ss@db/app")

    assert database_url_for(config) == "postgresql+psycopg://app:p%40ss@db/app"


def test_unsupported_database_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="'mysql' is not supported"):
        database_url_for(alembic_config(tmp_path, "mysql://app@db/app"))


def test_init_writes_env_script_template_and_alembic_ini(tmp_path: Path) -> None:
    written = init_migrations(tmp_path / "migrations", metadata="demo.models:Model.metadata")

    assert {path.relative_to(tmp_path).as_posix() for path in written} == {
        "alembic.ini",
        "migrations/env.py",
        "migrations/script.py.mako",
        "migrations/versions/.gitkeep",
    }
    env = (tmp_path / "migrations" / "env.py").read_text()
    assert "from demo.models import Model\n" in env
    assert "run_migrations(Model.metadata)\n" in env
    config = Config(tmp_path / "alembic.ini")
    assert ScriptDirectory.from_config(config).dir == str(tmp_path / "migrations")


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "env.py").write_text("")

    with pytest.raises(MigrationError, match="not empty"):
        init_migrations(tmp_path / "migrations", metadata="demo.models:Model.metadata")


def test_init_refuses_metadata_that_is_not_a_module_attribute(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="is not like"):
        init_migrations(tmp_path / "migrations", metadata="demo/models.py")


def _write(connection: Connection, statement: str) -> None:
    connection.execute(text(statement))
    connection.commit()


def _rows(connection: Connection, statement: str, values: dict[str, Any]) -> list[Any]:
    return list(connection.execute(text(statement), values).scalars())


async def _on(url: str, function: Callable[..., T], *arguments: Any) -> T:
    """`function(connection, *arguments)` on a connection of its own to `url`."""
    engine = create_async_engine(normalize_database_url(url), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(function, *arguments)
    finally:
        await engine.dispose()


def _describe(connection: Connection, table: str) -> dict[str, Any] | None:
    inspector = inspect(connection)
    if not inspector.has_table(table):
        return None
    return {
        "columns": {column["name"]: column for column in inspector.get_columns(table)},
        "unique": {constraint["name"] for constraint in inspector.get_unique_constraints(table)},
    }


PARENTS_AND_CHILDREN = """
from sqlalchemy import ForeignKey


class Parent(Base):
    __tablename__ = "parents"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20), unique=True)


class Child(Base):
    __tablename__ = "children"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("parents.id", ondelete="CASCADE"))
"""


def test_never_reuse_ids_rebuilds_old_sqlite_tables_and_keeps_their_rows(
    project: Project,
) -> None:
    project.write_models(PARENTS_AND_CHILDREN)
    revision(project.config, "create parents")
    upgrade(project.config)
    sql = "INSERT INTO parents (id, name) VALUES (1, 'a'), (2, 'b'); " + (
        "INSERT INTO children (id, parent_id) VALUES (1, 1), (2, 2);"
    )
    asyncio.run(_execute(project.url, *sql.split("; ")))
    script = revision(project.config, "ids never reused", autogenerate=False)
    assert script is not None
    source = script.read_text().replace(
        "def upgrade() -> None:\n    pass",
        "def upgrade() -> None:\n"
        "    from stackkit.db.migration_ops import never_reuse_ids\n\n"
        "    never_reuse_ids('parents', 'children')\n"
        "    never_reuse_ids('parents')  # a second time: nothing to do",
    )
    script.write_text(source)
    upgrade(project.config)

    sqlite = project.url.startswith("sqlite")
    rows = asyncio.run(
        _execute(
            project.url,
            "SELECT count(*) FROM children",
            "SELECT sql FROM sqlite_master WHERE name = 'parents'" if sqlite else "SELECT 1",
        )
    )
    assert rows[0] == 2  # the rebuild cascaded to nothing
    if sqlite:
        assert "AUTOINCREMENT" in rows[1]
        rows = asyncio.run(
            _execute(
                project.url,
                "DELETE FROM parents WHERE id = 2",
                "INSERT INTO parents (name) VALUES ('c')",
                "SELECT max(id) FROM parents",
            )
        )
        assert rows[2] == 3  # not 2 again
    assert "uq_parents_name" in (project.table("parents") or {})["unique"]


async def _execute(url: str, *statements: str) -> list[Any]:
    from sqlalchemy import text

    engine = create_async_engine(normalize_database_url(url), poolclass=NullPool)
    results: list[Any] = []
    try:
        async with engine.begin() as connection:
            for statement in statements:
                result = await connection.execute(text(statement))
                results.append(result.scalar() if result.returns_rows else None)
    finally:
        await engine.dispose()
    return results


QUEUE_REVISION = """
from stackkit.jobs.schema import create_queue_tables, drop_queue_tables

revision = "queue"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    create_queue_tables()


def downgrade():
    drop_queue_tables()
"""


def test_the_job_queue_revision_creates_and_drops_the_queue_and_autogenerate_ignores_it(
    project: Project,
) -> None:
    assert revision(project.config, "create articles") is not None
    [first] = heads(project.config)
    queue = project.root / "migrations" / "versions" / "queue.py"
    queue.write_text(QUEUE_REVISION.format(down=first), encoding="utf-8")
    upgrade(project.config)
    assert current(project.config) == ("queue",)
    postgres = project.url.startswith("postgresql")
    assert _queue_objects(project.url) == (QUEUE_OBJECTS if postgres else [])
    assert revision(project.config, "nothing changed") is None  # no drop of the queue's tables
    if postgres:
        assert asyncio.run(_run_a_job(project.url)) == ["ran"]
    downgrade(project.config, first)
    assert _queue_objects(project.url) == []
    upgrade(project.config)  # and back again
    assert _queue_objects(project.url) == (QUEUE_OBJECTS if postgres else [])


QUEUE_OBJECTS = [
    "procrastinate_events",
    "procrastinate_jobs",
    "procrastinate_periodic_defers",
    "procrastinate_workers",
    "stackkit_job_errors",
]


def _queue_objects(url: str) -> list[str]:
    """The queue's tables; on PostgreSQL, with a marker if any of its functions or types
    is left without them."""
    if not url.startswith("postgresql"):
        return []

    async def read() -> list[str]:
        engine = create_async_engine(normalize_database_url(url))
        try:
            async with engine.connect() as connection:
                tables = await connection.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                        " AND tablename ~ '^(procrastinate|stackkit_job)_' ORDER BY tablename"
                    )
                )
                others = await connection.execute(
                    text(
                        "SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%'"
                        " UNION ALL SELECT count(*) FROM pg_type"
                        " WHERE typname LIKE 'procrastinate%' AND typtype IN ('e', 'c')"
                    )
                )
                found = [row[0] for row in tables]
                if not found and any(count for (count,) in others):
                    found.append("functions or types left behind")
                return found
        finally:
            await engine.dispose()

    return asyncio.run(read())


async def _run_a_job(url: str) -> list[str]:
    ran: list[str] = []
    async with JobQueue(url, requeue_every=None, clean_up_every=None) as jobs:

        @jobs.job()
        async def mark() -> None:
            ran.append("ran")

        assert not await jobs.install()  # the revision made the tables already
        await mark.defer()
        await jobs.run_worker(until_empty=True)
    return ran


ACCOUNT_TABLES_REVISION = """
from stackkit.auth.tables import (
    create_audit_table, create_email_verification_table, drop_audit_table,
    drop_email_verification_table,
)

revision = "0003"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    create_audit_table()
    create_email_verification_table()


def downgrade():
    drop_email_verification_table()
    drop_audit_table()
"""
API_KEYS_REVISION = """
from stackkit.auth.tables import create_api_key_table, drop_api_key_table

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    create_api_key_table()


def downgrade():
    drop_api_key_table()
"""
TWO_FACTOR_REVISION = """
from stackkit.auth.tables import create_two_factor_tables, drop_two_factor_tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    create_two_factor_tables()


def downgrade():
    drop_two_factor_tables()
"""
FILES_REVISION = """
from stackkit.files import create_file_table, drop_file_table

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    create_file_table()


def downgrade():
    drop_file_table()
"""
TEMPLATE_REVISIONS = (
    Path(stackkit.__file__).parent / "templates" / "project" / "migrations" / "versions"
)


@pytest.mark.parametrize("source", ["helpers", "generated-project"])
def test_the_account_tables_revisions_create_them_as_declared_and_autogenerate_ignores_them(
    project: Project, source: str
) -> None:
    assert revision(project.config, "create articles") is not None
    [first] = heads(project.config)
    if source == "helpers":
        scripts = [
            ACCOUNT_TABLES_REVISION.format(down=first),
            API_KEYS_REVISION,
            TWO_FACTOR_REVISION,
            FILES_REVISION,
        ]
    else:
        scripts = [
            (TEMPLATE_REVISIONS / "0003_create_account_tables.py")
            .read_text(encoding="utf-8")
            .replace('"0002"', f'"{first}"'),
            (TEMPLATE_REVISIONS / "0004_create_api_keys_table.py").read_text(encoding="utf-8"),
            (TEMPLATE_REVISIONS / "0005_create_two_factor_tables.py").read_text(encoding="utf-8"),
            (TEMPLATE_REVISIONS / "0006_create_files_table.py").read_text(encoding="utf-8"),
        ]
    for number, script in enumerate(scripts):
        path = project.root / "migrations" / "versions" / f"account_{number}.py"
        path.write_text(script, encoding="utf-8")
    upgrade(project.config)
    # Columns, types and indexes as declared (autogenerate compares them all).
    for metadata in (account_metadata, files_metadata):
        assert asyncio.run(_differences_from(project.url, metadata)) == []
        assert all(project.table(name) is not None for name in metadata.tables)
    assert revision(project.config, "nothing changed") is None  # no drop of them
    downgrade(project.config, first)
    for metadata in (account_metadata, files_metadata):
        assert all(project.table(name) is None for name in metadata.tables)


async def _differences_from(url: str, metadata: MetaData) -> list[Any]:
    """What autogenerate finds between `metadata` and the database's tables of it."""
    engine = create_async_engine(normalize_database_url(url), poolclass=NullPool)

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        ours = set(metadata.tables)
        return [
            difference
            for difference in compare_metadata(context, metadata)
            # Only differences of our tables: the others are the test's articles and
            # the tables of the other metadata.
            if not (difference[0] == "remove_table" and difference[1].name not in ours)
            and not (difference[0] == "remove_index" and difference[1].table.name not in ours)
        ]

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()
