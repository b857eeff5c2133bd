"""The admins' view of the job queue under `/api/admin/jobs`: pages newest first with the
counts and the last error, retry and cancel; on the embedded default (the app's own
worker) and on PostgreSQL (a worker's turn run by the test)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.jobs import JobQueue
from tests.auth.conftest import bearer, login, register
from tests.auth.test_admin_users import admin_headers

JOBS = "/api/admin/jobs"
QUEUE = "tests"


async def install_queue(app: Starlette) -> None:
    await app.state.jobs.install()


def queue_settings(service_settings: dict[str, Any], tmp_path: Path) -> Settings:
    """The app's settings. The app's own daily jobs (the audit log's clean-up) run at
    whatever hour the tests do, so these tests list only their queue's jobs, the
    clean-up has nothing to do, and SQLite is a file: an in-memory database is one
    connection, which the clean-up's unit would share with the test's."""
    values = {**service_settings, "audit_retention_days": 0}
    if values["database_url"] == "sqlite:///:memory:":
        values["database_url"] = f"sqlite:///{tmp_path / 'app.db'}"
    return Settings(env="test", **values)


@pytest.fixture
def queue_app(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any], tmp_path: Path
) -> tuple[TestClient, JobQueue, Any]:
    """An app with a queue holding one job, `sometimes(fail=...)`, which fails when asked."""
    jobs = JobQueue(requeue_every=None, clean_up_every=None)

    @jobs.job(name="tests.sometimes", queue=QUEUE)
    async def sometimes(fail: bool) -> None:
        if fail:
            raise ValueError("asked to fail")

    settings = queue_settings(service_settings, tmp_path)
    client = make_auth_client(settings, jobs=jobs, startup=[install_queue])
    return client, jobs, sometimes


def _settle(client: TestClient, jobs: JobQueue) -> None:
    assert client.portal is not None
    client.portal.call(jobs.run_pending)


def _defer(client: TestClient, job: Any, **arguments: Any) -> int:
    assert client.portal is not None
    return int(client.portal.call(partial(job.defer, **arguments)))


def test_admins_page_the_jobs_newest_first_with_counts_and_errors(
    queue_app: tuple[TestClient, JobQueue, Any],
) -> None:
    client, jobs, sometimes = queue_app
    headers = admin_headers(client)
    assert client.get("/api/meta", headers=headers).json()["jobs"] is True  # the SPA's menu
    ok, failing = _defer(client, sometimes, fail=False), _defer(client, sometimes, fail=True)
    _settle(client, jobs)
    first = client.get(JOBS, params={"limit": 1, "queue": QUEUE}, headers=headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [(j["id"], j["status"], j["last_error"]) for j in page["items"]] == [
        (failing, "failed", "ValueError: asked to fail")
    ]
    assert page["items"][0]["arguments"] == {"fail": True}
    assert page["counts"]["failed"] == 1
    assert page["counts"]["succeeded"] >= 1
    older = client.get(
        JOBS, params={"limit": 1, "cursor": page["next_cursor"], "queue": QUEUE}, headers=headers
    )
    assert [j["id"] for j in older.json()["items"]] == [ok]
    failed = client.get(JOBS, params={"status": "failed", "queue": QUEUE}, headers=headers).json()
    assert [j["id"] for j in failed["items"]] == [failing]
    assert failed["next_cursor"] is None


def test_admins_retry_a_failed_job_and_cancel_a_waiting_one(
    queue_app: tuple[TestClient, JobQueue, Any],
) -> None:
    client, jobs, sometimes = queue_app
    headers = admin_headers(client)
    failing = _defer(client, sometimes, fail=True)
    _settle(client, jobs)
    assert client.post(f"{JOBS}/{failing}/retry", headers=headers).status_code == 204
    _settle(client, jobs)
    again = client.post(f"{JOBS}/{failing}/cancel", headers=headers)  # failed again: not waiting
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"Job {failing} is not waiting: only a waiting job is cancelled."
    )
    statuses = client.get(JOBS, params={"status": "failed", "queue": QUEUE}, headers=headers).json()
    assert statuses["items"][0]["attempts"] > 1
    done = _defer(client, sometimes, fail=False)
    _settle(client, jobs)
    refused = client.post(f"{JOBS}/{done}/retry", headers=headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert client.post(f"{JOBS}/999999/cancel", headers=headers).status_code == 409


def test_a_waiting_job_cancelled_by_an_admin_never_runs(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any], tmp_path: Path
) -> None:
    jobs = JobQueue(requeue_every=None, clean_up_every=None)
    ran: list[str] = []

    @jobs.job(name="tests.later", queue=QUEUE)
    async def later() -> None:
        ran.append("ran")

    settings = queue_settings(service_settings, tmp_path)
    client = make_auth_client(settings, jobs=jobs, startup=[install_queue])
    headers = admin_headers(client)
    assert client.portal is not None
    job_id = client.portal.call(partial(later.configured({}, schedule_in={"hours": 1}).defer_async))
    assert client.post(f"{JOBS}/{job_id}/cancel", headers=headers).status_code == 204
    cancelled = {"status": "cancelled", "queue": QUEUE}
    listed = client.get(JOBS, params=cancelled, headers=headers).json()
    assert [j["id"] for j in listed["items"]] == [job_id]
    _settle(client, jobs)
    assert ran == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", JOBS), ("post", f"{JOBS}/1/retry"), ("post", f"{JOBS}/1/cancel")],
)
def test_only_admins_see_the_jobs(
    queue_app: tuple[TestClient, JobQueue, Any], method: str, path: str
) -> None:
    client = queue_app[0]
    assert getattr(client, method)(path).status_code == 401
    register(client)
    user = bearer(login(client))
    assert getattr(client, method)(path, headers=user).status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        {"status": "lost"}, {"limit": "0"}, {"limit": "201"}, {"cursor": "0"},
        {"cursor": "x"}, {"cursor": str(2**63)}, {"queue": "q" * 129}, {"colour": "red"},
    ],
)  # fmt: skip
def test_bad_queries_are_422(
    queue_app: tuple[TestClient, JobQueue, Any], query: dict[str, str]
) -> None:
    client = queue_app[0]
    answer = client.get(JOBS, params=query, headers=admin_headers(client))
    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize("job_id", ["0", "-1", "x", str(2**63), "9" * 30])
def test_bad_job_ids_are_422_not_500(
    queue_app: tuple[TestClient, JobQueue, Any], job_id: str
) -> None:
    client = queue_app[0]
    answer = client.post(f"{JOBS}/{job_id}/retry", headers=admin_headers(client))
    assert answer.status_code in (404, 422), answer.text
