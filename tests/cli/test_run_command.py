"""`stackkit run`: where the links in its development emails lead."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest

from stackkit.cli.new import create_project
from stackkit.cli.run import public_url_default
from stackkit.testing import find_free_port, wait_until

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
