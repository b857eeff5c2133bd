"""`stackkit user create`, `routes`, `openapi` and `check`: what they print, their exit
codes, and their one-line errors.

Most tests run the commands in this process, on a project of the test's own whose
user table has a name of its own: this process declares `users` already (other
tests import `stackkit.auth.user.User`). One test runs them in processes of their
own on a project made by `stackkit new`, as a user would.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from stackkit.auth.audit import AuditLog
from stackkit.auth.tables import create_account_tables
from stackkit.cli.app_commands import (
    check_command,
    openapi_command,
    routes_command,
    user_group,
)
from stackkit.cli.new import create_project
from stackkit.cli.project import find_project
from stackkit.cli.run import run_command
from stackkit.db import Model
from stackkit.db.migrations import alembic_config, upgrade
from stackkit.testing import create_database, drop_database
from tests.cli.conftest import DemoProject

MakeProject = Callable[[str], DemoProject]

cli = click.Group("stackkit", commands=[user_group, routes_command, openapi_command, check_command])

PASSWORD = "correct horse battery staple"
STRONG_KEY = "q7Vf2-LmZ9xR4tKp8WcB1nYh6JsD3gEa"

MODELS = """
from stackkit.auth import UserMixin
from stackkit.db import Model

metadata = Model.metadata


class User(UserMixin, Model):
    __tablename__ = "{table}"
"""

MAIN = """
from stackkit import create_app
from {package}.models import User


def build_app(settings=None):
    return create_app(settings, user_model=User, configure_logs=False)


app = build_app()
"""

# A revision script; 0001 creates the user table from the models, which is enough for a
# test but not how a project migrates.
REVISION = """
from alembic import op

revision = "{revision}"
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade():
    {upgrade}


def downgrade():
    pass
"""

# `stackkit` with only this module's commands: the test does not depend on main.py.
DRIVER = (
    "import click\n"
    "from stackkit.cli.app_commands import *\n"
    "click.Group('stackkit', commands=[user_group, routes_command, openapi_command,"
    " check_command])()\n"
)


@pytest.fixture(autouse=True)
def _no_settings_of_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("STACKKIT_", "DATABASE_", "REDIS_")) or name == "SECRET_KEY":
            monkeypatch.delenv(name)


@pytest.fixture
def make_app_project(make_project: MakeProject) -> Iterator[Callable[[str], DemoProject]]:
    """Write a project whose app has users, in a table of its own created by revision
    0001 (not applied: see `migrate`), and go into its root."""
    tables: list[str] = []

    def make(database_url: str) -> DemoProject:
        made = make_project(database_url)
        tables.append(user_table(made))
        made.write("models", MODELS.format(table=user_table(made)))
        made.write("main", MAIN.format(package=made.package))
        models = f"{made.package}.models"
        create = f"import {models}\n    {models}.User.__table__.create(op.get_bind())"
        add_revision(made, "0001", None, create)
        return made

    yield make
    for table in tables:  # out of the metadata other tests share
        if table in Model.metadata.tables:
            Model.metadata.remove(Model.metadata.tables[table])


@pytest.fixture
def project(make_app_project: Callable[[str], DemoProject]) -> DemoProject:
    """An app project on SQLite, `app.db` in its root."""
    return make_app_project("sqlite:///./app.db")


def user_table(project: DemoProject) -> str:
    return f"users_{project.package.rpartition('_')[2]}"


def add_revision(project: DemoProject, revision: str, down: str | None, body: str) -> None:
    source = REVISION.format(revision=revision, down_revision=down, upgrade=body)
    path = project.root / "migrations" / "versions" / f"{revision}_step.py"
    path.write_text(source, encoding="utf-8")


def migrate(project: DemoProject) -> None:
    with find_project(project.root).activated():  # env.py imports the project's models
        upgrade(alembic_config(project.root / "migrations", project.database_url))


def invoke(*arguments: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(arguments), input=input)


def error_line(result: Result) -> str:
    """The output of a command that failed in one line, without a traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not a traceback
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def roles_of(project: DemoProject, email: str) -> list[str] | None:
    with closing(sqlite3.connect(project.root / "app.db")) as connection:
        query = f"SELECT roles FROM {user_table(project)} WHERE email = ?"
        row = connection.execute(query, (email,)).fetchone()
    return None if row is None else list(json.loads(row[0]))


def test_user_create_asks_for_the_password_twice_unseen(project: DemoProject) -> None:
    migrate(project)
    result = invoke("user", "create", "Ada@Example.com", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output
    assert "Repeat for confirmation:" in result.output
    assert PASSWORD not in result.output
    assert result.output.endswith("Created user 1 ada@example.com\n")
    assert roles_of(project, "ada@example.com") == []


def test_user_create_admin_from_stdin_signs_in_as_admin(project: DemoProject) -> None:
    migrate(project)
    result = invoke("user", "create", "ada@example.com", "--admin", "--password-stdin",
                    input=f"{PASSWORD}\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == "Created user 1 ada@example.com (admin)\n"
    app = sys.modules[f"{project.package}.main"].app
    with TestClient(app) as client:
        login = client.post("/api/auth/login", json={"email": "ada@example.com",
                                                     "password": PASSWORD})  # fmt: skip
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["roles"] == ["admin"]


@pytest.mark.parametrize(
    ("password", "reason"),
    [("password", "too common"), ("short", "at least 8 characters"),
     ("ada@example.com", "email address")],
    ids=["common", "short", "the-email"],
)  # fmt: skip
def test_user_create_refuses_a_password_the_policy_refuses(
    project: DemoProject, password: str, reason: str
) -> None:
    migrate(project)
    result = invoke("user", "create", "ada@example.com", "--password-stdin", input=password)
    line = error_line(result)
    assert line.startswith("Error: password refused:")
    assert reason in line
    assert roles_of(project, "ada@example.com") is None


def test_user_create_refuses_a_taken_email(project: DemoProject) -> None:
    migrate(project)
    first = invoke("user", "create", "ada@example.com", "--password-stdin", input=PASSWORD)
    assert first.exit_code == 0, first.output
    again = invoke("user", "create", "ADA@example.com", "--password-stdin", input="other pass 123")
    assert error_line(again) == "Error: a user with the email ada@example.com exists already"


def test_user_create_on_an_unmigrated_database_says_to_upgrade(project: DemoProject) -> None:
    result = invoke("user", "create", "ada@example.com", "--password-stdin", input=PASSWORD)
    line = error_line(result)
    assert "run `stackkit db upgrade`" in line
    assert "Password" not in result.output  # not asked for, to no end


def test_user_create_refuses_what_is_not_an_email(project: DemoProject) -> None:
    result = invoke("user", "create", "ada", "--password-stdin", input=PASSWORD)
    assert error_line(result).startswith("Error: 'ada' is not an email address: ")


def test_user_create_normalises_the_email_as_the_api_does(project: DemoProject) -> None:
    migrate(project)
    fullwidth = "\uff21\uff24\uff21@Example.com"
    result = invoke("user", "create", fullwidth, "--password-stdin", input=PASSWORD)
    assert result.output == "Created user 1 ada@example.com\n"
    again = invoke("user", "create", "ada@example.com", "--password-stdin", input=PASSWORD)
    assert error_line(again) == "Error: a user with the email ada@example.com exists already"
    hidden = invoke("user", "create", "eve\u200b@example.com", "--password-stdin", input=PASSWORD)
    assert "U+200B" in error_line(hidden)
    assert roles_of(project, "eve\u200b@example.com") is None


def test_user_normalize_emails_lists_then_fixes_rows_stored_otherwise(
    project: DemoProject,
) -> None:
    migrate(project)
    created = invoke("user", "create", "ada@example.com", "--password-stdin", input=PASSWORD)
    assert created.exit_code == 0, created.output
    with closing(sqlite3.connect(project.root / "app.db")) as connection, connection:
        for email in ("Bob@Example.com", "\uff41da@example.com"):  # as SQL, or an old stackkit
            connection.execute(
                f"INSERT INTO {user_table(project)} (email, password_hash, is_active, roles, "
                "version, created_at, updated_at) VALUES (?, 'x', 1, '[]', 1, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                (email,),
            )

    listed = invoke("user", "normalize-emails")

    assert listed.exit_code == 1, listed.output  # one row needs a person
    assert listed.output.splitlines() == [
        "user 2: 'Bob@Example.com' -> 'bob@example.com' (would fix)",
        "user 3: '\uff41da@example.com': same normal form as user 1 (settle it yourself)",
    ]
    applied = invoke("user", "normalize-emails", "--apply")
    assert applied.output.splitlines()[0] == (
        "user 2: 'Bob@Example.com' -> 'bob@example.com' (fixed)"
    )
    assert roles_of(project, "bob@example.com") == []
    assert invoke("user", "normalize-emails").output.splitlines() == [
        "user 3: '\uff41da@example.com': same normal form as user 1 (settle it yourself)",
    ]


def test_routes_lists_each_route_with_its_access(project: DemoProject) -> None:
    result = invoke("routes")
    assert result.exit_code == 0, result.output
    cells = [line.split() for line in result.output.splitlines()]
    rows = [row for row in cells if len(row) >= 6 and row[1].startswith("/")]
    by_route = {(method, path): rest for method, path, *rest in rows}
    assert by_route["POST", "/api/auth/login"][:2] == ["login", "public"]
    assert by_route["GET", "/api/auth/me"][:2] == ["me", "signed-in"]
    assert by_route["GET", "/healthz"][2] == "none"  # no rate limit
    assert [(path, method) for method, path, *_ in rows] == sorted(
        (path, method) for method, path in by_route
    )
    assert "Defaults: rate limit 100/minute" in result.output


def test_openapi_prints_the_document(project: DemoProject) -> None:
    result = invoke("openapi")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert "/api/auth/login" in document["paths"]
    assert result.output.startswith('{\n  "openapi"')  # indented


def test_openapi_writes_the_document_to_a_file(project: DemoProject) -> None:
    result = invoke("openapi", "--output", "openapi.json")
    assert result.exit_code == 0, result.output
    written = project.root / "openapi.json"
    assert result.output == f"Wrote {written}\n"
    assert "/api/auth/login" in json.loads(written.read_text(encoding="utf-8"))["paths"]


def test_an_app_that_does_not_import_is_one_line(project: DemoProject) -> None:
    project.write("main", "app = undefined_name\n")
    line = error_line(invoke("routes"))
    assert line == (
        f"Error: cannot import {project.package}.main: NameError: name 'undefined_name' "
        f"is not defined ({project.package}/main.py:1)"
    )


def test_check_passes_on_a_migrated_project(
    project: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    migrate(project)
    result = invoke("check")
    assert result.exit_code == 0, result.output
    assert [line.split()[:2] for line in result.output.splitlines()] == [
        ["ok", "settings"],
        ["ok", "SECRET_KEY"],
        ["ok", "app"],
        ["ok", "database"],
        ["skip", "redis"],
        ["ok", "migrations"],
    ]


def test_check_warns_of_sqlite_tables_that_reuse_ids_until_migrated(
    project: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table made before ids were never reused: `check` says which, and how to fix it."""
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    table = user_table(project)
    models = f"{project.package}.models"
    old_table = (
        f"import {models}\n"
        f"    table = {models}.User.__table__\n"
        "    table.dialect_kwargs['sqlite_autoincrement'] = False\n"
        "    try:\n"
        "        table.create(op.get_bind())\n"
        "    finally:\n"
        "        table.dialect_kwargs['sqlite_autoincrement'] = True"
    )
    add_revision(project, "0001", None, old_table)
    migrate(project)
    result = invoke("check")
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.output.splitlines() if "migrations" in line]
    assert line.startswith(f"warn  migrations  at 0001; {table} hand out the id of a deleted row")
    assert f'never_reuse_ids("{table}", ...)' in line

    fix = f"from stackkit.db.migration_ops import never_reuse_ids\n    never_reuse_ids({table!r})"
    add_revision(project, "0002", "0001", fix)
    migrate(project)
    result = invoke("check")
    assert result.exit_code == 0, result.output
    assert "ok    migrations  at 0002" in result.output


def test_check_warns_of_a_missing_secret_key_outside_production(project: DemoProject) -> None:
    migrate(project)
    result = invoke("check")
    assert result.exit_code == 0, result.output
    assert "warn  SECRET_KEY  not set" in result.output


def test_check_reads_the_secret_key_from_the_file_stackkit_env_file_names(
    project: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(project)
    settings = (project.root / ".env").read_text()  # the database migrate() made
    (project.root / "app.env").write_text(f"{settings}\nSECRET_KEY={STRONG_KEY}\n")
    monkeypatch.setenv("STACKKIT_ENV_FILE", "app.env")
    result = invoke("check")
    assert result.exit_code == 0, result.output
    assert "ok    SECRET_KEY  set and strong" in result.output


def test_check_names_an_env_file_that_is_not_utf8(project: DemoProject) -> None:
    (project.root / ".env").write_bytes(b"STACKKIT_ENV=test\nSECRET_KEY=\xff\xfe\n")
    result = invoke("check")
    assert result.exit_code == 1
    assert "FAIL  settings    .env: is not UTF-8 text" in result.output


def test_check_fails_on_a_pending_migration(project: DemoProject) -> None:
    migrate(project)
    add_revision(project, "0002", "0001", "pass")
    result = invoke("check")
    assert result.exit_code == 1
    line = result.output.splitlines()[-1]
    assert line.startswith("FAIL  migrations  pending: the database is at 0001, the latest is 0002")


@pytest.mark.parametrize(
    ("variable", "url", "failed"),
    [("DATABASE_URL", "postgresql://127.0.0.1:1/x", "database"),
     ("REDIS_URL", "redis://127.0.0.1:1", "redis")],
    ids=["database", "redis"],
)  # fmt: skip
def test_check_fails_on_a_server_that_does_not_answer(
    project: DemoProject, monkeypatch: pytest.MonkeyPatch, variable: str, url: str, failed: str
) -> None:
    monkeypatch.setenv(variable, url)
    result = invoke("check")
    assert result.exit_code == 1
    lines = {line.split()[1]: line for line in result.output.splitlines()}
    assert lines[failed].startswith(f"FAIL  {failed}")
    assert "127.0.0.1" in lines[failed]
    if failed == "database":
        assert lines["migrations"].startswith("skip")


def test_check_fails_on_a_weak_secret_key_in_production(
    project: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STACKKIT_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "change-me")
    result = invoke("check")
    assert result.exit_code == 1
    lines = {line.split()[1]: line for line in result.output.splitlines()}
    assert lines["SECRET_KEY"].startswith("FAIL  SECRET_KEY  is too weak for production")
    assert lines["database"].startswith("skip")


def test_user_create_and_check_on_postgresql(
    make_app_project: Callable[[str], DemoProject], postgres_server_url: str
) -> None:
    url = create_database(postgres_server_url)
    try:
        migrate(make_app_project(url))
        created = invoke("user", "create", "ada@example.com", "--password-stdin", input=PASSWORD)
        assert created.output == "Created user 1 ada@example.com\n"
        again = invoke("user", "create", "ada@example.com", "--password-stdin", input=PASSWORD)
        assert error_line(again) == "Error: a user with the email ada@example.com exists already"
        checked = invoke("check")
        assert checked.exit_code == 0, checked.output
        assert "ok    database    postgresql+psycopg://" in checked.output
    finally:
        drop_database(postgres_server_url, url.rsplit("/", 1)[1])


@pytest.mark.parametrize(
    "arguments",
    [["user", "create", "ada@example.com"], ["routes"], ["openapi"], ["check"]],
    ids=["user-create", "routes", "openapi", "check"],
)
def test_outside_a_project_each_command_fails_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert error_line(invoke(*arguments)).startswith("Error: not inside a stackkit project")


def test_a_generated_project_end_to_end(tmp_path: Path) -> None:
    """In processes of their own, on the project `stackkit new` writes."""
    root = tmp_path / "demo"
    create_project(root, "demo")
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STACKKIT_", "DATABASE_", "REDIS_", "SECRET_KEY", "PYTEST_"))
    }

    def run(*arguments: str, input: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, *arguments], cwd=root, env=environment, input=input,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    migrate_code = "from stackkit.db.migrations import *; upgrade(alembic_config('migrations'))"
    run("-c", migrate_code)
    created = run("-c", DRIVER, "user", "create", "ada@example.com", "--admin",
                  "--password-stdin", input=f"{PASSWORD}\n")  # fmt: skip
    assert created == "Created user 1 ada@example.com (admin)\n"
    with closing(sqlite3.connect(root / "demo.db")) as connection:
        row = connection.execute("SELECT email, roles FROM users").fetchone()
    assert row == ("ada@example.com", '["admin"]')
    assert "/api/auth/login" in run("-c", DRIVER, "routes")
    assert "/api/auth/login" in json.loads(run("-c", DRIVER, "openapi"))["paths"]
    checked = run("-c", DRIVER, "check").splitlines()
    assert [line.split()[0] for line in checked] == ["ok", "ok", "ok", "ok", "skip", "ok"]


def test_check_and_run_agree_on_a_key_too_short_to_sign(
    project: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STACKKIT_ENV", "development")
    monkeypatch.setenv("SECRET_KEY", "short")
    migrate(project)
    result = invoke("check")
    assert result.exit_code == 1
    lines = {line.split()[1]: line for line in result.output.splitlines()}
    refusal = "is too short: it has 5 characters, at least 32 are needed to sign tokens"
    assert lines["SECRET_KEY"] == f"FAIL  SECRET_KEY  {refusal}"
    assert lines["app"].startswith("skip")
    run = CliRunner().invoke(run_command, ["--port", "1"])  # refused before it listens
    assert run.exit_code == 1
    assert f"SECRET_KEY: {refusal}" in run.output


def test_check_does_not_create_a_missing_sqlite_file(project: DemoProject) -> None:
    result = invoke("check")
    assert result.exit_code == 1
    assert not (project.root / "app.db").exists()
    lines = {line.split()[1]: line for line in result.output.splitlines()}
    assert lines["database"].startswith("warn  database    sqlite+aiosqlite:///./app.db: app.db")
    assert "does not exist yet" in lines["database"]
    assert lines["migrations"].startswith("FAIL  migrations  pending: the database does not exist")


def test_check_help_names_every_check() -> None:
    result = invoke("check", "--help")
    assert result.exit_code == 0
    assert "settings, SECRET_KEY, app, database, Redis, migrations" in " ".join(
        result.output.split()
    )


def test_user_create_vouches_for_the_address_where_addresses_are_verified(
    project: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(project)
    monkeypatch.setenv("STACKKIT_EMAIL_VERIFICATION", "true")
    result = invoke("user", "create", "ada@example.com", "--password-stdin", input=PASSWORD)
    # The demo project has no account tables: created all the same, with a warning.
    assert result.exit_code == 0, result.output
    assert "Warning: the address is not recorded as verified" in result.output

    app = sys.modules[f"{project.package}.main"].app

    async def create_tables() -> None:
        await create_account_tables(app.state.database.engine)

    with TestClient(app) as client:
        assert client.portal is not None
        client.portal.call(create_tables)
    result = invoke("user", "create", "grace@example.com", "--password-stdin", input=PASSWORD)
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output
    with TestClient(app) as client:
        login = client.post(
            "/api/auth/login", json={"email": "grace@example.com", "password": PASSWORD}
        )
        token = login.json()["access_token"]
        address = client.get("/api/auth/email", headers={"Authorization": f"Bearer {token}"})
        assert client.portal is not None
        events = client.portal.call(AuditLog(app.state.database).page)
    assert address.json()["verified_at"] is not None
    # Made where the audit log exists: the creation is in it, by the command.
    created = [e for e in events if e.event == "user.registered"]
    assert [(e.subject_id, e.actor_id, e.details) for e in created] == [
        (2, None, {"by": "stackkit user create", "admin": False})
    ]
