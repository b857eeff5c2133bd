"""`stackkit user`, `stackkit routes`, `stackkit openapi`: commands on the project's app.

Each imports the app that `stackkit run` serves (`[tool.stackkit] app`, by default
`<package>.main:app`) from the project's root, and reports what stops it in one
line with a non-zero exit, never a traceback. `stackkit check` is in
`stackkit.cli.check`, re-exported here.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy import Table as SQLTable
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.responses import Response

from stackkit.app import OPENAPI_PATH
from stackkit.auth.audit import AuditLog
from stackkit.auth.config import Auth
from stackkit.auth.emails import EmailFix, InvalidEmail, normalize_email
from stackkit.auth.tables import audit_events
from stackkit.auth.verification import EmailVerifications
from stackkit.cli.check import check_command
from stackkit.cli.errors import one_line
from stackkit.cli.loading import load_app
from stackkit.cli.project import Project, find_project
from stackkit.cli.settings import hide_password
from stackkit.db import Database, DatabaseUnavailable
from stackkit.errors import ConflictError, ProblemError, ValidationProblem
from stackkit.http.routing import RouteSpec
from stackkit.settings import Settings

__all__ = ["check_command", "load_app", "openapi_command", "routes_command", "user_group"]

T = TypeVar("T")


@click.group("user")
def user_group() -> None:
    """Manage the app's user accounts."""


@user_group.command("create")
@click.argument("email")
@click.option(
    "--admin", is_flag=True, help="Give the user the app's admin role (`admin` by default)."
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of asking (a trailing newline is dropped).",
)
def create_user_command(email: str, admin: bool, password_stdin: bool) -> None:
    """Create an active user with EMAIL, and print its id.

    Asks for the password twice, hidden, unless --password-stdin. The app's
    password policy applies. The database must be migrated first.
    """
    project = find_project()
    with project.activated():
        app = load_app(project)
        auth, database = _auth_and_database(app, project)
        email = _normal_email(email)
        table = auth.config.user_model.__table__
        assert isinstance(table, SQLTable)
        if not _run(database, _has_table(database, table)):
            raise click.ClickException(
                f"the database has no {table.name} table: run `stackkit db upgrade` "
                "(or `stackkit run`) first"
            )
        password = _read_password(from_stdin=password_stdin)
        roles = [auth.config.admin_role] if admin else []
        user = _run(database, _register(auth, database, email, password, roles))
        if _run(database, _has_table(database, audit_events)):
            _run(database, _audit_creation(database, int(user.id), admin))
    click.echo(f"Created user {user.id} {user.email}" + (" (admin)" if admin else ""))


async def _audit_creation(database: Database, user_id: int, admin: bool) -> None:
    async with database:
        await AuditLog(database).record(
            "user.registered",
            subject_id=user_id,
            details={"by": "stackkit user create", "admin": admin},
        )


@user_group.command("normalize-emails")
@click.option("--apply", is_flag=True, help="Store the normal forms (default: only list).")
def normalize_emails_command(apply: bool) -> None:
    """List the users whose stored email is not in the normal form, and with --apply
    store it.

    stackkit finds an account by the normal form of the email typed (NFKC, lower
    case, no invisible characters): a row stored otherwise (by an older stackkit,
    or by SQL) cannot sign in or reset its password until it is fixed. Rows that
    cannot be fixed (their normal form is another user's, or it is refused) are
    listed for you to settle; the exit status is then 1.
    """
    project = find_project()
    with project.activated():
        app = load_app(project)
        auth, database = _auth_and_database(app, project)
        fixes, done = _run(database, _fix_emails(auth, database, apply=apply))
    for fix in fixes:
        if fix.fixable:
            verb = "fixed" if fix in done else "would fix"
            click.echo(f"user {fix.id}: {fix.stored!r} -> {fix.normalized!r} ({verb})")
        else:
            click.echo(f"user {fix.id}: {fix.stored!r}: {fix.problem} (settle it yourself)")
    unsettled = [fix for fix in fixes if fix not in done and (apply or not fix.fixable)]
    if not fixes:
        click.echo("Every stored email is in its normal form.")
    elif not apply and not unsettled:
        click.echo("Run again with --apply to store the normal forms.")
    if unsettled:
        click.get_current_context().exit(1)


@click.command("routes")
def routes_command() -> None:
    """List the app's routes: method, path, name, access, rate limit and cache TTL."""
    project = find_project()
    with project.activated():
        app = load_app(project)
    settings: Settings = app.state.settings
    specs: list[RouteSpec] = sorted(app.state.route_specs, key=lambda s: (s.path, s.method))
    cache = f"{settings.cache_ttl}s" if settings.cache_ttl else "off"
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        caption=f"Defaults: rate limit {settings.rate_limit} (STACKKIT_RATE_LIMIT), "
        f"cache TTL {cache} (STACKKIT_CACHE_TTL)",
        caption_justify="left",
    )
    for column in ("Method", "Path", "Name", "Access", "Rate limit", "Cache TTL"):
        short = column in ("Method", "Access")
        table.add_column(column, no_wrap=short, overflow="ellipsis" if short else "fold")
    for spec in specs:
        table.add_row(
            spec.method,
            spec.path,
            spec.name,
            _access(spec),
            _rate_limit(spec),
            _cache_ttl(spec, settings),
        )
    console = Console(highlight=False)
    if not console.is_terminal:
        # Piped or captured: whole rows, rather than cells cut to fit 80 columns.
        wide = console.options.update_width(10_000)
        console.width = max(console.width, console.measure(table, options=wide).maximum)
    console.print(table)


@click.command("openapi")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the document to FILE instead of printing it.",
)
def openapi_command(output: Path | None) -> None:
    """Print the app's OpenAPI document (JSON), as served at /api/openapi.json."""
    output = output.resolve() if output else None  # from where the user is
    project = find_project()
    with project.activated():
        document = asyncio.run(_openapi_document(load_app(project), project))
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"cannot write {output}: {error.strerror}") from None
    click.echo(f"Wrote {output}")


async def _openapi_document(app: Starlette, project: Project) -> Any:
    # The document the app built at start-up, from its own route: no lifespan, so no
    # connection to open and none of the app's start-up hooks run.
    specs: list[RouteSpec] = app.state.route_specs
    for spec in specs:
        if spec.method == "GET" and spec.path == OPENAPI_PATH:
            response = await spec.handler()
            if isinstance(response, Response):
                return json.loads(bytes(response.body))
    raise click.ClickException(f"{project.app} serves no OpenAPI document at {OPENAPI_PATH}")


def _auth_and_database(app: Starlette, project: Project) -> tuple[Auth, Database]:
    auth: Auth | None = app.state.auth
    database: Database | None = app.state.database
    if auth is None:
        raise click.ClickException(
            f"{project.app} has no users: build it with create_app(user_model=...)"
        )
    if database is None:
        raise click.ClickException(f"{project.app} has no database backend")
    return auth, database


def _normal_email(email: str) -> str:
    """`email` as the API would store it: the one `normalize_email`, as for every way in.

    Raises:
        click.ClickException: it refuses the email.
    """
    try:
        return normalize_email(email)
    except InvalidEmail as error:
        raise click.ClickException(f"{email!r} is not an email address: {error}") from None


def _read_password(*, from_stdin: bool) -> str:
    if not from_stdin:
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    password = sys.stdin.read()
    password = password.removesuffix("\n").removesuffix("\r")
    if not password:
        raise click.ClickException("no password on standard input")
    return password


async def _has_table(database: Database, table: SQLTable) -> bool:
    def has_table(session: Session) -> bool:
        return inspect(session.connection()).has_table(table.name, schema=table.schema)

    async with database, database.session(read_only=True) as session:
        return await session.run_sync(has_table)


async def _register(
    auth: Auth, database: Database, email: str, password: str, roles: Sequence[str]
) -> Any:
    async with database:
        try:
            user = await auth.users(database).register(email, password, roles=roles)
        except ValidationProblem as problem:
            reasons = " ".join(error["message"] for error in problem.extensions["errors"])
            raise click.ClickException(f"password refused: {reasons}") from None
        except ConflictError as conflict:
            if conflict.extensions.get("field") == "email":
                raise click.ClickException(
                    f"a user with the email {email} exists already"
                ) from None
            raise click.ClickException(conflict.detail or str(conflict)) from None
        if not auth.settings.verifies_email:
            return user
        # An operator made it: the address counts as verified.
        try:
            await EmailVerifications(database).mark(user.id, user.email)
        except SQLAlchemyError as error:
            click.echo(
                f"Warning: the address is not recorded as verified ({error.__class__.__name__}:"
                " run `stackkit db upgrade` for the account tables)",
                err=True,
            )
        return user


async def _fix_emails(
    auth: Auth, database: Database, *, apply: bool
) -> tuple[list[EmailFix], list[EmailFix]]:
    async with database:
        users = auth.users(database)
        fixes = await users.email_fixes()
        return fixes, (await users.fix_emails(fixes) if apply else [])


def _run(database: Database, work: Coroutine[Any, Any, T]) -> T:
    """Run `work` on a loop of its own; a database that fails is one line."""
    where = hide_password(database.url)
    try:
        return asyncio.run(work)
    except (DatabaseUnavailable, SQLAlchemyError, OSError) as error:
        reason = one_line(error, kind=True)
        raise click.ClickException(f"database error on {where}: {reason}") from None
    except ProblemError as error:  # a rule of the app's own UserService
        raise click.ClickException(error.detail or str(error)) from None


def _access(spec: RouteSpec) -> str:
    if spec.public:
        return "public"
    return f"roles: {', '.join(spec.roles)}" if spec.roles else "signed-in"


def _rate_limit(spec: RouteSpec) -> str:
    if spec.rate_limit is False:
        return "none"
    return spec.rate_limit if isinstance(spec.rate_limit, str) else "default"


def _cache_ttl(spec: RouteSpec, settings: Settings) -> str:
    # Only GET responses of controller routes are cached (HEAD is answered from them).
    if spec.method != "GET" or settings.cache_ttl == 0 or spec.cache_ttl == 0:
        return "-"
    return "default" if spec.cache_ttl is None else f"{spec.cache_ttl:g}s"
