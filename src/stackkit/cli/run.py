"""`stackkit run`: migrate the project's database, then serve the app with uvicorn.

Everything that can stop the start (settings, the port, the database) is checked
first and reported in one line with a non-zero exit, never a traceback.

uvicorn's own handling of `X-Forwarded-For` and `X-Forwarded-Proto` is off, whatever
`FORWARDED_ALLOW_IPS` says: a client's address comes only from
`STACKKIT_TRUSTED_PROXIES` (see `stackkit.ratelimit.middleware.client_address`).
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import click
import uvicorn
from pydantic_settings import DotEnvSettingsSource
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from stackkit.cli.errors import one_line
from stackkit.cli.loading import load_app
from stackkit.cli.project import Project, find_project
from stackkit.db.migrations import MigrationError, alembic_config, current, heads, upgrade
from stackkit.settings import Settings

__all__ = ["run_command"]


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--reload", is_flag=True, help="Restart when the code changes (development).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--no-migrate", is_flag=True, help="Do not apply pending migrations first.")
def run_command(host: str, port: int, reload: bool, workers: int, no_migrate: bool) -> None:
    """Apply pending migrations, then serve the project's API.

    Links in emails (password reset) start with STACKKIT_PUBLIC_URL; when it is
    not set, with this server's address (http://HOST:PORT).
    """
    project = find_project()
    console = Console(highlight=False)
    with project.activated(), public_url_default(f"http://{_shown(host)}:{port}"):
        app = load_app(project)  # the project's own code: an error in it stops here, in one line
        settings: Settings = app.state.settings  # loaded once: the app's own
        if workers > 1 and not settings.redis_url:
            # Each worker would keep its own sessions: a token from one fails on another.
            raise click.ClickException(
                f"--workers {workers} needs REDIS_URL: sessions, rate limits and the cache "
                "must be shared by the workers"
            )
        check_port_free(host, port)
        if not no_migrate:
            applied = migrate(project, settings)
            if applied:
                console.print(f"Database migrated to {applied}.")
        console.print(f"Serving {project.package} at [bold]http://{_shown(host)}:{port}[/bold]")
        jobs = getattr(app.state, "jobs", None)
        if jobs is not None:
            console.print(
                "Jobs run in this process (SQLite): those not run yet are lost if it stops."
                if not jobs.durable
                else "Jobs wait in the database: run `stackkit worker` beside this server."
            )
        uvicorn.run(
            project.app,
            host=host,
            port=port,
            reload=reload,
            reload_dirs=[str(project.root / project.package)] if reload else None,
            workers=None if reload else workers,
            app_dir=str(project.root),
            access_log=False,  # stackkit logs each request itself
            server_header=False,  # no `Server: uvicorn`: it tells an attacker what runs here
            # uvicorn would otherwise take the client's address from X-Forwarded-For on
            # connections from 127.0.0.1 (its FORWARDED_ALLOW_IPS default), and a client
            # there could pick its own rate-limit key. STACKKIT_TRUSTED_PROXIES decides.
            proxy_headers=False,
            forwarded_allow_ips="",
            log_level="warning",
        )


def check_port_free(host: str, port: int) -> None:
    """Raises `click.ClickException` when nothing can listen on host:port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"port {port} on {host} is in use: stop what runs there, or pass --port"
                ) from None
            raise click.ClickException(
                f"cannot listen on {host}:{port}: {error.strerror}"
            ) from None


def migrate(project: Project, settings: Settings) -> str | None:
    """Apply pending migrations; the revision reached, or None if none were pending.

    Raises:
        click.ClickException: the database cannot be reached, or a migration failed.
    """
    config = alembic_config(project.migrations, settings.database_url)
    try:
        before = current(config)
        if before == heads(config):
            return None
        upgrade(config)
        return ", ".join(current(config)) or None
    except (MigrationError, SQLAlchemyError, OSError) as error:
        raise click.ClickException(f"cannot migrate the database: {one_line(error)}") from None
    except Exception as error:  # the project's models or migrations raised
        raise click.ClickException(
            f"cannot migrate the database: {type(error).__name__}: {error}"
        ) from None


@contextmanager
def public_url_default(url: str) -> Iterator[None]:
    """Within the block, `STACKKIT_PUBLIC_URL` is `url` unless the environment or the
    (current folder's) `.env` sets it: the reset link of a development mail then
    leads to the server that sent it. The environment is restored afterwards."""
    name = "STACKKIT_PUBLIC_URL"
    if os.environ.get(name) or DotEnvSettingsSource(Settings)().get("public_url"):
        yield
        return
    previous = os.environ.get(name)
    os.environ[name] = url  # workers and reloads are child processes: they inherit it
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


def _shown(host: str) -> str:
    # Where a browser on this machine reaches a server listening on every interface.
    if host in ("0.0.0.0", ""):  # noqa: S104
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
