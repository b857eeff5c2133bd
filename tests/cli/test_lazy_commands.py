"""`stackkit --help` lists every command without importing any of them."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from stackkit.cli import cli
from stackkit.cli.main import COMMANDS, load_command


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_summary_is_the_commands_own(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    assert COMMANDS[name].short_help == command.get_short_help_str(limit=1000)


def test_help_lists_every_command_and_runs_one() -> None:
    listed = CliRunner().invoke(cli, ["--help"])
    assert listed.exit_code == 0
    names = [line.split()[0] for line in listed.output.split("Commands:\n")[1].splitlines()]
    assert names == sorted(COMMANDS)
    assert "Manage the app's user accounts." in listed.output
    user = CliRunner().invoke(cli, ["user", "--help"])
    assert user.exit_code == 0
    assert "normalize-emails" in user.output


def test_an_unknown_command_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(cli, ["nope"])
    assert result.exit_code == 2
    assert "No such command 'nope'" in result.output


HEAVY = ["sqlalchemy", "alembic", "redis", "jwt", "starlette", "uvicorn", "jinja2", "pydantic"]


def test_help_imports_no_command_nor_the_libraries_they_need() -> None:
    code = (
        "import sys, json\n"
        "from stackkit.cli import main\n"
        "sys.argv = ['stackkit', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stderr)
    assert "Commands:" in done.stdout
    heavy = [name for name in loaded if name.split(".")[0] in HEAVY]
    commands = [name for name in loaded if name.startswith("stackkit.") and name not in {
        "stackkit.__about__", "stackkit.lazy", "stackkit.cli", "stackkit.cli.main"
    }]  # fmt: skip
    assert (heavy, commands) == ([], [])


def test_a_command_added_to_the_group_is_listed_and_runs() -> None:
    @click.command("hello")
    def hello() -> None:
        """Say hello."""
        click.echo("hello!")

    cli.add_command(hello)
    try:
        listed = CliRunner().invoke(cli, ["--help"])
        assert "  hello     Say hello." in listed.output
        assert CliRunner().invoke(cli, ["hello"]).output == "hello!\n"
    finally:
        del cli.commands["hello"]
