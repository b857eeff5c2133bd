"""`stackkit run`: what it hands uvicorn, and where the links in its development emails
lead. (`test_generated_project.py` runs it for real too.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from click.testing import CliRunner

from stackkit.cli.new import create_project
from stackkit.cli.run import public_url_default, run_command
from stackkit.testing import find_free_port, wait_until
from tests.cli.conftest import DemoProject

MAIN = """
from stackkit import create_app

app = create_app(configure_logs=False)
"""


@pytest.mark.parametrize(
    ("arguments", "environment"),
    [
        ([], {}),
        (["--workers", "2"], {"REDIS_URL": "redis://127.0.0.1:1/0"}),
        (["--reload"], {}),
    ],
    ids=["one-worker", "several-workers", "reload"],
)
def test_stackkit_run_turns_uvicorns_proxy_headers_off(
    make_project: Callable[[str], DemoProject],
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    environment: dict[str, str],
) -> None:
    project = make_project("sqlite:///./app.db")
    project.write("main", MAIN)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # What an operator might have in the environment: neither may turn it back on.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    monkeypatch.setenv("UVICORN_PROXY_HEADERS", "true")
    served: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "stackkit.cli.run.uvicorn.run", lambda app, **options: served.append(options)
    )

    port = str(find_free_port())
    result = CliRunner().invoke(run_command, ["--port", port, "--no-migrate", *arguments])

    assert result.exit_code == 0, result.output
    [options] = served
    assert options["proxy_headers"] is False
    assert options["forwarded_allow_ips"] == ""


ACCOUNT = {"email": "ada@example.com", "password": "correct horse battery staple"}


def _environment() -> dict[str, str]:
    """A user's shell: no settings of this test run leak in."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STACKKIT_", "DATABASE_", "REDIS_", "SECRET_KEY", "PYTEST_"))
    }


def test_the_reset_link_follows_the_port_of_stackkit_run(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    create_project(root, "demo")
    port = find_free_port()
    log = tmp_path / "run.log"
    stackkit = Path(sys.executable).with_name("stackkit")
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(stackkit), "run", "--port", str(port)],
            cwd=root, env=_environment(), stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"stackkit run stopped: {log.read_text()}")
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def link() -> str | None:
        found = re.search(r"(\S+)/reset-password#token=", log.read_text())
        return found.group(1) if found else None

    try:
        wait_until(answers, timeout=30, description="stackkit run to answer")
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.post("/api/auth/register", json=ACCOUNT).status_code == 201
            email = {"email": ACCOUNT["email"]}
            assert http.post("/api/auth/password-reset", json=email).status_code == 202
        wait_until(lambda: link() is not None, timeout=10, description="the reset email")
        assert link() == base
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize(
    ("environment", "dotenv", "expected"),
    [
        ({}, "", "http://127.0.0.1:9000"),
        ({"STACKKIT_PUBLIC_URL": "https://app.example.com"}, "", "https://app.example.com"),
        ({}, "STACKKIT_PUBLIC_URL=https://dotenv.example.com\n", None),
    ],
    ids=["default", "environment-wins", "dotenv-wins"],
)
def test_public_url_default_leaves_a_given_url_alone(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    dotenv: str,
    expected: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(dotenv, encoding="utf-8")
    monkeypatch.delenv("STACKKIT_PUBLIC_URL", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    before = os.environ.get("STACKKIT_PUBLIC_URL")
    with public_url_default("http://127.0.0.1:9000"):
        assert os.environ.get("STACKKIT_PUBLIC_URL") == expected
    assert os.environ.get("STACKKIT_PUBLIC_URL") == before
