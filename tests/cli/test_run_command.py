"""`stackkit run`: what it hands uvicorn. (`test_generated_project.py` runs it for real.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from stackkit.cli.run import run_command
from stackkit.testing import find_free_port
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
