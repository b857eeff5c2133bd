"""`stackkit`: the command group. Each command lives in its own module of this package,
imported only when it runs (Click's lazily loaded subcommands), so that `stackkit
--help` answers at once: the commands that load an app import SQLAlchemy, Alembic,
Redis and the rest."""

from __future__ import annotations

import importlib
from typing import NamedTuple

import click

from stackkit.__about__ import __version__

__all__ = ["COMMANDS", "LazyCommand", "cli", "main"]


class LazyCommand(NamedTuple):
    """Where a subcommand lives (`module:attribute`), and its summary, which `--help`
    shows without importing it (a test holds it equal to the command's own)."""

    target: str
    short_help: str


COMMANDS = {
    "check": LazyCommand(
        "stackkit.cli.check:check_command",
        "Check that the project can start: settings, SECRET_KEY, app, database, Redis, migrations.",
    ),
    "db": LazyCommand(
        "stackkit.cli.db:db_group",
        "Migrate, seed, back up and restore the project's database (DATABASE_URL).",
    ),
    "generate": LazyCommand(
        "stackkit.cli.generate:generate_group",
        "Add code to the project: a resource through every layer, or a background job.",
    ),
    "jobs": LazyCommand(
        "stackkit.cli.jobs:jobs_group",
        "List the project's jobs, retry failed ones, cancel waiting ones.",
    ),
    "new": LazyCommand(
        "stackkit.cli.new:new_command",
        "Create a new project NAME: API, database, migrations, tests, deployment files.",
    ),
    "openapi": LazyCommand(
        "stackkit.cli.app_commands:openapi_command",
        "Print the app's OpenAPI document (JSON), as served at /api/openapi.json.",
    ),
    "routes": LazyCommand(
        "stackkit.cli.app_commands:routes_command",
        "List the app's routes: method, path, name, access, rate limit and cache TTL.",
    ),
    "run": LazyCommand(
        "stackkit.cli.run:run_command",
        "Apply pending migrations, then serve the project's API.",
    ),
    "settings": LazyCommand(
        "stackkit.cli.settings:settings_command",
        "Check the settings from the environment and .env, and print them (secrets hidden).",
    ),
    "upgrade": LazyCommand(
        "stackkit.cli.upgrade:upgrade_command",
        "Merge the installed stackkit's template into this project (see docs/upgrading).",
    ),
    "user": LazyCommand(
        "stackkit.cli.app_commands:user_group",
        "Manage the app's user accounts.",
    ),
    "worker": LazyCommand(
        "stackkit.cli.jobs:worker_command",
        "Run the project's jobs (PostgreSQL), until Ctrl+C or SIGTERM.",
    ),
}


def load_command(name: str) -> click.Command:
    """Import the subcommand `name` (one of COMMANDS)."""
    module, _, attribute = COMMANDS[name].target.partition(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)
    return command


class LazyGroup(click.Group):
    """A group whose subcommands are imported when one runs, not to list them; commands
    added with `add_command` (a plugin's) are listed and run as usual."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As Click lists them, with each line cut to the terminal's width as Click cuts it."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name) or click.Command(name, help=COMMANDS[name].short_help)
            rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stackkit")
def cli() -> None:
    """Build and run full-stack Python apps from stackkit's building blocks."""


def main() -> None:
    cli()
