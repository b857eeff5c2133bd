"""The browser tests a generated project writes for itself (`e2e/` of `stackkit new`, a
module per `generate resource`) pass in that project, on the embedded defaults and on
PostgreSQL + Redis, with the machine's Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CATEGORY = ("Category", "code:str:optional", "name:str:unique", "--display", "name")
TASK = (
    "Task", "title:str:search", "notes:text:optional", "done:bool", "priority:int",
    "price:decimal", "ratio:float", "due:date", "at:datetime", "ref:uuid",
    "status:enum=todo,doing,done", "category:ref=Category", "labels:refs=Category",
    "assignee:ref=User", "photo:image", "leaflet:file:optional",
)  # fmt: skip
# Settings a user's shell may hold, which the generated project must not pick up.
_OUTSIDE = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "STACKKIT_", "PYTEST_")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("suite") / "shop"
    _stackkit(root.parent, "new", "shop", "--directory", str(root))
    for resource in (CATEGORY, TASK):
        _stackkit(root, "generate", "resource", *resource)
    return root


def _stackkit(folder: Path, *arguments: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stackkit", *arguments], cwd=folder, env=_environment(),
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _environment(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(_OUTSIDE)}
    return {**environment, **extra}


@pytest.mark.parametrize("stack", ["embedded", "postgresql-redis"])
def test_the_projects_own_browser_tests_pass(
    project: Path, chromium_path: str, stack: str, request: pytest.FixtureRequest
) -> None:
    services = {}
    if stack == "postgresql-redis":
        services = {
            "STACKKIT_TEST_DATABASE_URL": request.getfixturevalue("postgres_server_url"),
            "STACKKIT_TEST_REDIS_URL": request.getfixturevalue("redis_server_url"),
        }
    modules = sorted(path.name for path in (project / "e2e").glob("test_*.py"))
    assert modules == ["test_categories.py", "test_sign_up.py", "test_tasks.py"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "e2e", "-q", "-p", "no:cacheprovider"],
        cwd=project, env=_environment(STACKKIT_E2E_CHROMIUM=chromium_path, **services),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "3 passed" in done.stdout
