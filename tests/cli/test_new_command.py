"""`stackkit new`: the project it writes, and what it refuses."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stackkit.cli import cli
from stackkit.cli.project import find_project


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_new_writes_a_project_in_layers(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["new", "my-shop", "--directory", str(tmp_path / "my-shop")])
    assert result.exit_code == 0, result.output
    root = tmp_path / "my-shop"
    for name in ("models", "repositories", "services", "schemas", "controllers", "main", "seed"):
        source = (root / "my_shop" / f"{name}.py").read_text()
        ast.parse(source)  # valid Python
    for path in (
        "pyproject.toml", "tox.ini", "README.md", ".env", ".env.example", ".gitignore",
        ".dockerignore",
        "alembic.ini", "migrations/env.py", "migrations/versions/0001_create_users.py",
        "tests/conftest.py", "tests/test_app.py", ".github/workflows/ci.yml",
        "deploy/Dockerfile", "deploy/compose.yaml", "deploy/nginx.conf",
        "deploy/systemd/my_shop.service", "deploy/systemd/my_shop-backup.timer",
        "frontend/README.md",
    ):  # fmt: skip
        assert (root / path).is_file(), path
    assert not list(root.rglob("*.jinja"))
    dockerfile = (root / "deploy" / "Dockerfile").read_text()
    assert "COPY --from=frontend /frontend/dist ./frontend/dist" in dockerfile
    assert "from my_shop.models import User" in (root / "my_shop" / "main.py").read_text()
    project = find_project(root / "my_shop")
    assert (project.package, project.app) == ("my_shop", "my_shop.main:app")


def test_new_gives_each_project_its_own_secret_key(runner: CliRunner, tmp_path: Path) -> None:
    keys = []
    for name in ("one", "two"):
        assert runner.invoke(cli, ["new", name, "--directory", str(tmp_path / name)]).exit_code == 0
        env = (tmp_path / name / ".env").read_text()
        [key] = [
            line.split("=", 1)[1] for line in env.splitlines() if line.startswith("SECRET_KEY=")
        ]
        assert len(key) >= 48
        assert (tmp_path / name / ".env").stat().st_mode & 0o077 == 0
        keys.append(key)
    assert keys[0] != keys[1]
    assert "SECRET_KEY=\n" in (tmp_path / "one" / ".env.example").read_text()


def test_new_with_postgres_names_it_in_env(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "shop"
    assert (
        runner.invoke(
            cli, ["new", "shop", "--db", "postgres", "--directory", str(target)]
        ).exit_code
        == 0
    )
    assert "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/shop" in (target / ".env").read_text()


def test_new_writes_into_the_working_directory_by_default(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["new", "shop"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "shop" / "shop" / "main.py").is_file()
    assert "cd shop && stackkit run" in result.output


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("My Shop", "lower-case"),
        ("9lives", "lower-case"),
        ("shop!", "lower-case"),
        ("a" * 41, "at most 40"),
        ("class", "shadow"),
        ("json", "shadow"),
        ("stackkit", "shadow"),
        ("tests", "shadow"),
    ],
    ids=[
        "space",
        "digit-first",
        "punctuation",
        "too-long",
        "keyword",
        "stdlib",
        "stackkit",
        "tests",
    ],
)
def test_new_refuses_a_bad_name(runner: CliRunner, tmp_path: Path, name: str, reason: str) -> None:
    result = runner.invoke(cli, ["new", name, "--directory", str(tmp_path / "target")])
    assert result.exit_code != 0
    assert reason in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "target").exists()


def test_new_refuses_a_folder_that_is_not_empty(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "shop"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = runner.invoke(cli, ["new", "shop", "--directory", str(target)])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {target} already exists and is not empty"
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_new_accepts_an_empty_folder(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "shop"
    (target / ".git").mkdir(parents=True)  # a fresh `git init` counts as empty
    assert runner.invoke(cli, ["new", "shop", "--directory", str(target)]).exit_code == 0
    assert (target / "pyproject.toml").is_file()


@pytest.mark.parametrize("on_path", [False, True], ids=["not-activated", "on-path"])
def test_the_next_line_can_be_pasted_as_printed(tmp_path: Path, on_path: bool) -> None:
    # As the quick start runs it: `.venv/bin/stackkit new demo`, the venv not activated.
    stackkit = Path(sys.executable).with_name("stackkit")
    bin_folder = str(stackkit.parent) + os.pathsep if on_path else ""
    environment = {**os.environ, "PATH": bin_folder + "/usr/bin:/bin"}
    result = subprocess.run(
        [str(stackkit), "new", "demo"], cwd=tmp_path, env=environment, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("Next: ")]
    pasted = line.removeprefix("Next: ")
    assert pasted.startswith("cd demo && ")
    assert pasted.endswith(" run")
    assert (pasted == "cd demo && stackkit run") is on_path
    # The same command, asked for its version instead of serving, works in that shell.
    version = subprocess.run(
        ["bash", "-c", pasted.removesuffix(" run") + " --version"], cwd=tmp_path,
        env=environment, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("stackkit, version")
    # `generate resource`, run in the project, prints a command that works there too.
    result = subprocess.run(
        [str(stackkit), "generate", "resource", "task", "title:str"], cwd=tmp_path / "demo",
        env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("Next: ")]
    command = line.removeprefix("Next: ").split(" db upgrade")[0]
    assert (command == "stackkit") is on_path
    upgraded = subprocess.run(
        ["bash", "-c", f"{command} db upgrade"], cwd=tmp_path / "demo", env=environment,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
