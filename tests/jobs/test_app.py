"""A job queue given to `create_app(jobs=...)`: bound to the app's database, opened with
it, checked by `/readyz`, its jobs given the app's parts; on the embedded default the
app's own process runs them, on PostgreSQL a worker does."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.http import Controller
from stackkit.jobs import JobQueue
from stackkit.settings import normalize_database_url
from stackkit.testing import find_free_port


def _notes_app(
    make_client: Callable[..., TestClient], database_url: str
) -> tuple[TestClient, JobQueue, list[str]]:
    """An app whose `POST /notes` writes a row and defers a job in the same unit; the job
    reads the row back through `jobs.state.database`."""
    jobs = JobQueue(requeue_every=None, clean_up_every=None)
    seen: list[str] = []

    @jobs.job()
    async def announce(note_id: int) -> None:
        async with jobs.state.database.session(read_only=True) as session:
            query = text("SELECT title FROM notes WHERE id = :id")
            seen.append((await session.execute(query, {"id": note_id})).scalar_one())

    api = Controller("/notes", public=True)

    @api.post("", status_code=202)
    async def add(request: Request) -> None:
        async with request.app.state.database.session() as session:
            await session.execute(text("INSERT INTO notes (id, title) VALUES (1, 'first')"))
            await announce.defer_in(session, note_id=1)

    async def prepare(app: Starlette) -> None:
        await jobs.install()
        async with app.state.database.session() as session:
            await session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT)"))

    settings = Settings(env="test", database_url=database_url)
    client = make_client(settings, controllers=[api], jobs=jobs, startup=[prepare])
    return client, jobs, seen


def test_the_app_binds_its_queue_checks_it_and_gives_its_jobs_the_database(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client, jobs, seen = _notes_app(make_client, database_url)
    assert jobs.database_url == normalize_database_url(database_url)
    assert client.app.state.jobs is jobs  # type: ignore[attr-defined]
    assert client.get("/readyz").json()["checks"]["jobs"] == "ok"
    assert client.post("/notes").status_code == 202
    if jobs.durable:  # PostgreSQL: `stackkit worker` runs the jobs, not the app
        assert [r.status for r in client.portal.call(jobs.records)] == ["todo"]  # type: ignore[union-attr]
        client.portal.call(partial(jobs.run_worker, until_empty=True))  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    while seen != ["first"]:
        assert time.monotonic() < deadline, "the job did not run"
        time.sleep(0.02)


def test_a_queue_whose_database_is_away_answers_503_not_500(
    make_client: Callable[..., TestClient],
) -> None:
    away = f"postgresql://postgres@127.0.0.1:{find_free_port()}/nowhere"
    jobs = JobQueue(away, connect_timeout=1, requeue_every=None, clean_up_every=None)

    @jobs.job()
    async def noop() -> None: ...

    api = Controller("/work", public=True)

    @api.post("", status_code=202)
    async def work() -> None:
        await noop.defer()

    client = make_client(controllers=[api], jobs=jobs)
    assert jobs.database_url == away  # its own: the app's (SQLite) is not forced on it
    answer = client.post("/work")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert client.get("/readyz").status_code == 503
