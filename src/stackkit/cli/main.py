"""`stackkit`: the command group. Each command lives in its own module of this package."""

from __future__ import annotations

import click

from stackkit.__about__ import __version__
from stackkit.cli.app_commands import (
    check_command,
    openapi_command,
    routes_command,
    user_group,
)
from stackkit.cli.db import db_group
from stackkit.cli.generate import generate_group
from stackkit.cli.new import new_command
from stackkit.cli.run import run_command
from stackkit.cli.settings import settings_command
from stackkit.cli.upgrade import upgrade_command

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stackkit")
def cli() -> None:
    """Build and run full-stack Python apps from stackkit's building blocks."""


cli.add_command(check_command)
cli.add_command(db_group)
cli.add_command(generate_group)
cli.add_command(new_command)
cli.add_command(openapi_command)
cli.add_command(routes_command)
cli.add_command(run_command)
cli.add_command(settings_command)
cli.add_command(upgrade_command)
cli.add_command(user_group)


def main() -> None:
    cli()
