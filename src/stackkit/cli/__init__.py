"""The `stackkit` command line."""

from stackkit.cli.main import cli, main

__all__ = ["cli", "main"]
