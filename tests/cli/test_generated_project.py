"""A generated project, end to end: its own tests pass on SQLite and on PostgreSQL with
Redis, its migration matches its models, and `stackkit run` serves the HTTP contract.

Each step runs in a process of its own, as a user would run it: the project's
models must not meet the tables other tests declare in this process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

import httpx2 as httpx
import pytest

from stackkit.cli.codegen import OVERRIDES
from stackkit.cli.new import create_project
from stackkit.testing import (
    SAMPLE_PNG,
    delete_keys,
    find_free_port,
    temporary_database,
    unique_key_prefix,
    upload_file,
    wait_until,
)
from tests.helpers import StartServer

PHOTO = SAMPLE_PNG
ACCOUNT = {"email": "ada@example.com", "password": "correct horse battery staple"}
CATEGORY = (
    "Category", "code:str:optional", "name:str:unique", "parent:ref=Category:optional",
    "--display", "name",
)  # fmt: skip
TASK = (
    "Task", "title:str:index:search", "notes:text:optional:search", "done:bool:default=false",
    "priority:int:default=3", "price:decimal:optional", "ratio:float:optional",
    "due:date:optional", "at:datetime:optional", "ref:uuid:optional",
    "status:enum=todo,doing,done:default=todo", "category:ref=Category",
    "assignee:ref=User:optional", "labels:refs=Category", "photo:image=2MB:optional",
    "leaflet:file:optional",
)  # fmt: skip
# The project's own tests: 4 of the app, 1 of its jobs, 4 for each generated resource,
# two more for the resource that refers to another (it may refer only to its owner's
# rows; it includes them), one for the searched resource, one for the resource with files,
# and one for each generated job.
# The longest name a job may have: its generated lines must stay within ruff's limit.
JOBS = (("send_report_to_every_owner_of_late_tasks",), ("nightly", "--cron", "0 3 * * *"))
PROJECT_TESTS = "19 passed"
NEW_PROJECT_TESTS = "5 passed"  # 4 of the app, 1 of its jobs


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project, then two resources generated into it with every field type."""
    root = tmp_path_factory.mktemp("generated") / "demo"
    create_project(root, "demo")
    for arguments in (CATEGORY, TASK):
        result = _run(root, "-m", "stackkit", "generate", "resource", *arguments)
        assert result.returncode == 0, result.stdout + result.stderr
    for job in JOBS:
        result = _run(root, "-m", "stackkit", "generate", "job", *job)
        assert result.returncode == 0, result.stdout + result.stderr
    return root


def _environment(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no settings of this test run leak in."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STACKKIT_", "DATABASE_", "REDIS_", "SECRET_KEY", "PYTEST_"))
    }
    environment.update(extra)
    return environment


def _run(project: Path, *arguments: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=project,
        env=_environment(**extra),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project as `stackkit new` leaves it."""
    root = tmp_path_factory.mktemp("fresh") / "demo"
    create_project(root, "demo")
    return root


def test_a_new_projects_tests_pass_on_both_databases(
    fresh: Path, postgres_server_url: str, redis_url: str
) -> None:
    on_sqlite = _run(fresh, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert on_sqlite.returncode == 0, on_sqlite.stdout + on_sqlite.stderr
    assert NEW_PROJECT_TESTS in on_sqlite.stdout
    on_services = _run(
        fresh, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        STACKKIT_TEST_DATABASE_URL=postgres_server_url,
        STACKKIT_TEST_REDIS_URL=redis_url,
        STACKKIT_REQUIRE_SERVICES="1",
    )  # fmt: skip
    assert on_services.returncode == 0, on_services.stdout + on_services.stderr
    assert NEW_PROJECT_TESTS in on_services.stdout


def test_a_new_projects_tests_keep_away_from_the_shells_servers(tmp_path: Path) -> None:
    """A shell, and a `.env`, set up for production (servers that are not there here):
    the tests run as in a bare shell, and reach none of them."""
    root = tmp_path / "demo"
    create_project(root, "demo")
    nowhere = find_free_port()
    production = {
        "REDIS_URL": f"redis://127.0.0.1:{nowhere}/0",
        "DATABASE_REPLICA_URLS": f"postgresql://postgres@127.0.0.1:{nowhere}/app",
        "STACKKIT_SMTP_URL": f"smtp://127.0.0.1:{nowhere}",
        "STACKKIT_RATE_LIMIT": "1/hour",
        "stackkit_access_token_ttl": "-5",  # invalid: would stop the app module's import
    }
    with (root / ".env").open("a") as dotenv:
        dotenv.writelines(f"{name}={value}\n" for name, value in production.items())
    result = _run(root, "-m", "pytest", "-q", "-p", "no:cacheprovider", **production)
    assert result.returncode == 0, result.stdout + result.stderr
    assert NEW_PROJECT_TESTS in result.stdout


def test_generated_tests_pass_on_sqlite(project: Path) -> None:
    result = _run(project, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
    assert PROJECT_TESTS in result.stdout


def test_generated_tests_pass_on_postgresql_and_redis(
    project: Path, postgres_server_url: str, redis_url: str
) -> None:
    result = _run(
        project, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        STACKKIT_TEST_DATABASE_URL=postgres_server_url,
        STACKKIT_TEST_REDIS_URL=redis_url,
        STACKKIT_REQUIRE_SERVICES="1",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert PROJECT_TESTS in result.stdout


def test_the_project_installs_as_a_package(project: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = _run(
        project, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), ".",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (site / "demo" / "main.py").is_file()
    # Imported from the installed copy, away from the sources, it builds its app.
    probe = "import demo.main as m; print(m.__file__); print(type(m.app).__name__)"
    database = f"sqlite:///{tmp_path / 'x.db'}"
    installed = _run(tmp_path, "-c", probe, PYTHONPATH=str(site), DATABASE_URL=database)
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.splitlines() == [str(site / "demo" / "main.py"), "Starlette"]


def test_display_names_the_label_and_is_recorded_for_upgrades(project: Path) -> None:
    controllers = (project / "demo" / "controllers.py").read_text()
    assert 'display="name",' in controllers  # the first str field would be `code`
    assert controllers.count("display=") == 1  # Task shows its first str field, the default
    record = json.loads((project / ".stackkit" / "project.json").read_text())
    displays = {resource["name"]: resource.get("display") for resource in record["resources"]}
    assert displays == {"Category": "name", "Task": None}
    assert (
        'display="name",'
        in (project / ".stackkit" / "base" / "demo" / "controllers.py").read_text()
    )


def test_the_generated_code_is_lint_clean(project: Path) -> None:
    for command in (("check",), ("format", "--check")):
        result = _run(project, "-m", "ruff", *command, "--no-cache", ".")
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_migrations_match_the_models(project: Path, tmp_path: Path) -> None:
    check = (
        "from stackkit.db.migrations import alembic_config, revision, upgrade\n"
        f"config = alembic_config('migrations', 'sqlite:///{tmp_path / 'check.db'}')\n"
        "upgrade(config)\n"
        "print(revision(config, 'nothing to do'))\n"
    )
    result = _run(project, "-c", check)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("None")  # autogenerate found no difference


@pytest.fixture
def served(project: Path, tmp_path: Path) -> Iterator[str]:
    """`stackkit run` in a copy of the project, on a free port; its base URL."""
    with serving(project, tmp_path) as base:
        yield base


@contextmanager
def serving(project: Path, tmp_path: Path, *arguments: str, **environment: str) -> Iterator[str]:
    """`stackkit run ARGUMENTS` in a copy of the project, on a free port, with these
    environment variables over a user's shell; its base URL, until the block ends."""
    copy = tmp_path / "demo"
    shutil.copytree(project, copy)
    port = find_free_port()
    stackkit = Path(sys.executable).with_name("stackkit")
    server = subprocess.Popen(
        [str(stackkit), "run", "--port", str(port), *arguments],
        cwd=copy,
        env=_environment(**environment),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"stackkit run stopped: {server.communicate()[0]}")
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(answers, timeout=30, description="stackkit run to answer")
        yield base
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
        served_output.append(output)


served_output: list[str] = []
"""What each `serving` block's server printed, once it stopped."""


def test_a_worker_backs_the_database_up_on_the_schedule_of_the_settings(
    fresh: Path, tmp_path: Path
) -> None:
    """The generated `jobs/backup.py`, run by `stackkit run`'s own worker (SQLite) every
    second, keeping the 2 newest."""
    folder = tmp_path / "kept"
    schedule = {
        "STACKKIT_BACKUP_SCHEDULE": "* * * * * */1", "STACKKIT_BACKUP_DIR": str(folder),
        "STACKKIT_BACKUP_KEEP": "2",
    }  # fmt: skip

    def backups() -> set[str]:
        return {path.name for path in folder.glob("demo-*.sqlite3")}

    with serving(fresh, tmp_path, **schedule):
        wait_until(lambda: len(backups()) == 2, timeout=30, description="two back-ups")
        first = backups()
        # A newer one comes, and the oldest goes: never more than the 2 kept.
        wait_until(
            lambda: len(backups()) == 2 and backups() != first,
            timeout=30, description="a third back-up, the oldest pruned",
        )  # fmt: skip


@pytest.mark.parametrize("services", ["embedded", "postgresql+redis"])
def test_the_reset_email_is_sent_by_a_job(
    fresh: Path, tmp_path: Path, start_server: StartServer, request: pytest.FixtureRequest,
    services: str,
) -> None:  # fmt: skip
    """Through `stackkit run` alone on the embedded default (its own worker), through
    `stackkit worker` beside it on PostgreSQL; to a real SMTP server."""
    smtp = start_server()
    environment = {"STACKKIT_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}"}
    with contextlib.ExitStack() as stack:
        if services == "postgresql+redis":
            server_url = request.getfixturevalue("postgres_server_url")
            database_url = stack.enter_context(temporary_database(server_url))
            prefix = unique_key_prefix()
            redis_url = request.getfixturevalue("redis_url")
            stack.callback(delete_keys, redis_url, prefix)
            environment |= {
                "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                "STACKKIT_CACHE_PREFIX": prefix,
            }  # fmt: skip
        base = stack.enter_context(serving(fresh, tmp_path, **environment))
        if services == "postgresql+redis":
            worker = subprocess.Popen(
                [str(Path(sys.executable).with_name("stackkit")), "worker"],
                cwd=tmp_path / "demo", env=_environment(**environment),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            stack.callback(worker.communicate, timeout=40)
            stack.callback(worker.terminate)
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.post("/api/auth/register", json=ACCOUNT).status_code == 201
            asked = http.post("/api/auth/password-reset", json={"email": ACCOUNT["email"]})
            assert asked.status_code == 202
            wait_until(
                lambda: len(smtp.inbox.envelopes) == 1, timeout=30, description="the reset email"
            )
    assert smtp.inbox.envelopes[0].rcpt_tos == [ACCOUNT["email"]]
    if services == "embedded":
        assert "Jobs run in this process (SQLite)" in served_output[-1]
    else:
        assert "run `stackkit worker` beside this server" in served_output[-1]
        assert worker.returncode == 0, worker.stdout


def test_stackkit_run_serves_the_http_contract(served: str) -> None:
    with httpx.Client(base_url=served, timeout=10) as http:
        assert http.get("/readyz").status_code == 200
        assert http.post("/api/auth/register", json=ACCOUNT).status_code == 201
        login = http.post("/api/auth/login", json=ACCOUNT)
        assert login.status_code == 200
        tokens = login.json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert http.get("/api/auth/me", headers=headers).json()["email"] == ACCOUNT["email"]
        refreshed = http.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200
        headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        category = http.post("/api/categories", json={"name": "home"}, headers=headers)
        assert category.status_code == 201, category.text
        # `name:str:unique` is unique among one owner's rows: a second "home" of the same
        # user is a 409 naming the field, another user's "home" no conflict at all.
        again = http.post("/api/categories", json={"name": "home"}, headers=headers)
        assert again.status_code == 409, again.text
        assert again.json()["field"] == "name"
        other = {**ACCOUNT, "email": "bob@example.com"}
        assert http.post("/api/auth/register", json=other).status_code == 201
        bob_token = http.post("/api/auth/login", json=other).json()["access_token"]
        bobs = {"Authorization": f"Bearer {bob_token}"}
        assert http.post("/api/categories", json={"name": "home"}, headers=bobs).status_code == 201
        body = {
            "title": "paint the door",
            "category_id": category.json()["id"],
            "due": "2026-12-01",
        }
        # An image, uploaded through the server (its body streamed), read back by link.
        body["photo"] = upload_file(
            http, "/api/tasks/files/photo", PHOTO, name="p.png", headers=headers
        )
        task = http.post("/api/tasks", json=body, headers=headers)
        assert task.status_code == 201, task.text
        url = task.headers["location"]
        link = http.get(f"{url}/files/photo", headers=headers).json()
        assert http.get(link["url"]).content == PHOTO
        assert http.get(link["thumbnail_url"]).headers["content-type"] == "image/webp"
        assert http.get("/api/tasks", headers=headers).json()["items"][0]["id"] == task.json()["id"]
        # bool, enum, date and ref fields are filterable without `:index`.
        for query in ("done=false", "status=todo", "due__gte=2026-11-30", "category_id=1"):
            listed = http.get(f"/api/tasks?{query}&sort=due", headers=headers)
            assert listed.status_code == 200, (query, listed.text)
            assert [row["id"] for row in listed.json()["items"]] == [task.json()["id"]], query
        changed = http.patch(
            url, json={"done": True}, headers={**headers, "If-Match": task.headers["etag"]}
        )
        assert changed.json()["done"] is True
        assert http.delete(url, headers=headers).status_code == 204
        assert http.get(url, headers=headers).status_code == 404
        meta = http.get("/api/meta/resources", headers=headers).json()
        assert {"categories", "tasks"} <= {item["name"] for item in meta}
        assert http.post("/api/auth/logout", headers=headers).status_code == 204
        assert http.get("/api/auth/me", headers=headers).status_code == 401
        paths = http.get("/api/openapi.json").json()["paths"]
        assert {"/api/auth/login", "/api/tasks", "/api/tasks/{id}"} <= set(paths)
        # A row is named after its model, not by cutting an "s" off ("categorie").
        assert paths["/api/categories"]["post"]["summary"] == "Create a category"
        # The UI shipped with stackkit, served with no Node.js involved.
        page = http.get("/tasks")
        assert page.status_code == 200
        assert '<div id="root"></div>' in page.text
        script = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
        assert script is not None
        asset = http.get(script.group(1))
        assert asset.status_code == 200
        assert "immutable" in asset.headers["cache-control"]


@pytest.mark.parametrize("workers", [1, 2], ids=["one-worker", "two-workers"])
def test_stackkit_run_takes_no_client_address_from_x_forwarded_for(
    project: Path, tmp_path: Path, request: pytest.FixtureRequest, workers: int
) -> None:
    # STACKKIT_TRUSTED_PROXIES is empty (the default); uvicorn's own switch says to
    # believe anyone, and must not matter.
    environment = {"FORWARDED_ALLOW_IPS": "*"}
    prefix = unique_key_prefix()
    if workers > 1:  # several workers count in one Redis
        redis_url = request.getfixturevalue("redis_url")
        environment |= {"REDIS_URL": redis_url, "STACKKIT_CACHE_PREFIX": prefix}
        request.addfinalizer(lambda: delete_keys(redis_url, prefix))
    with (
        serving(project, tmp_path, "--workers", str(workers), **environment) as base,
        httpx.Client(base_url=base, timeout=10) as http,
    ):
        # Registrations are limited to 5 a minute per address: a new X-Forwarded-For
        # each time does not make a new address.
        statuses = [
            http.post(
                "/api/auth/register",
                json={"email": f"visitor{n}@example.com", "password": ACCOUNT["password"]},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            ).status_code
            for n in range(8)
        ]
        assert statuses == [201] * 5 + [429] * 3
        # The address kept with a session is the connection's, not the header's.
        login = http.post(
            "/api/auth/login",
            json={"email": "visitor0@example.com", "password": ACCOUNT["password"]},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert login.status_code == 200, login.text
        bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        [session] = http.get("/api/auth/sessions", headers=bearer).json()
        assert session["address"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("environment", "workers", "message"),
    [
        ({"DATABASE_URL": "postgresql://127.0.0.1:1/nowhere"}, 1, "cannot migrate the database"),
        ({"STACKKIT_RATE_LIMIT": "lots"}, 1, "STACKKIT_RATE_LIMIT"),
        ({}, 2, "--workers 2 needs REDIS_URL"),
    ],
    ids=["unreachable-database", "bad-setting", "workers-without-redis"],
)
def test_stackkit_run_stops_with_one_clear_line(
    project: Path, environment: dict[str, str], workers: int, message: str
) -> None:
    arguments = ["run", "--port", str(find_free_port()), "--workers", str(workers)]
    result = _run(project, "-m", "stackkit", *arguments, **environment)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_stackkit_run_refuses_a_port_in_use(served: str, project: Path) -> None:
    port = served.rsplit(":", 1)[1]
    result = _run(project, "-m", "stackkit", "run", "--port", port)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: port {port} on 127.0.0.1 is in use: stop what runs there, or pass --port"
    )


def test_stackkit_run_outside_a_project(tmp_path: Path) -> None:
    result = _run(tmp_path, "-m", "stackkit", "run")
    assert result.returncode == 1
    assert "not inside a stackkit project" in result.stderr


def test_broken_project_code_stops_commands_in_one_line(project: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(project, broken)
    main = broken / "demo" / "main.py"
    main.write_text(main.read_text() + '\nraise RuntimeError("boom")\n')
    models_before = (broken / "demo" / "models.py").read_text()
    migrations_before = sorted((broken / "migrations" / "versions").iterdir())
    for arguments in (("run",), ("check",), ("generate", "resource", "Note", "title:str")):
        result = _run(broken, "-m", "stackkit", *arguments)
        assert result.returncode == 1, arguments
        assert "RuntimeError: boom" in result.stdout + result.stderr, arguments
        assert "Traceback" not in result.stdout + result.stderr, arguments
    # The failed generate put everything back.
    assert (broken / "demo" / "models.py").read_text() == models_before
    assert sorted((broken / "migrations" / "versions").iterdir()) == migrations_before
    assert not (broken / "tests" / "test_notes.py").exists()


def test_generate_refuses_models_that_differ_from_the_migrations(
    project: Path, tmp_path: Path
) -> None:
    pending = tmp_path / "pending"
    shutil.copytree(project, pending)
    models = pending / "demo" / "models.py"
    models.write_text(models.read_text() + "\n\nclass Extra(Model):\n    pass\n")
    result = _run(pending, "-m", "stackkit", "generate", "resource", "Note", "title:str")
    assert result.returncode == 1
    assert "the models differ from the migrations already" in result.stderr
    assert "class Note" not in models.read_text()


def test_a_project_template_replaces_stackkits_own(tmp_path: Path) -> None:
    """A project may copy a resource template into .stackkit/templates/resource/ and
    change it: `generate resource` writes what it says, and says it used it."""
    root = tmp_path / "shop"
    create_project(root, "shop")
    overrides = root / OVERRIDES
    overrides.mkdir(parents=True)
    stock = files("stackkit").joinpath("templates", "resource", "service.py.jinja").read_text()
    (overrides / "service.py.jinja").write_text(
        stock.replace('go here."""', 'go here (our house style)."""')
    )
    result = _run(root, "-m", "stackkit", "generate", "resource", "Task", "title:str")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Used the project's own .stackkit/templates/resource/service.py.jinja" in result.stdout
    services = (root / "shop" / "services.py").read_text()
    assert '"""Rules about tasks go here (our house style)."""' in services
    repositories = (root / "shop" / "repositories.py").read_text()
    assert "class TaskRepository(Repository[Task]):" in repositories  # stackkit's own
