"""Drill 2: PostgreSQL stopped under load, then started again.

The generated app runs on a throwaway PostgreSQL server of the drill's own (and the
in-memory cache), with `STACKKIT_DATABASE_CONNECT_TIMEOUT=2`. Two users load it: one
creates notes, one reads hers and asks who she is. Mid-load the drill stops the
server (a fast shutdown, which ends every connection), checks what the app answers
while the database is away, starts it again on the same port and data, and then
counts the rows: every note the app answered 201 for must be there, once. The app
is never restarted. Bounded: 3,000 requests, 60 s.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from e2e.server import Account, GeneratedAppServer, served
from faults.client import Answer, Client
from faults.conftest import UNLIMITED, sign_up, throwaway
from faults.load import NO_ANSWER, Load
from stackkit.testing import PostgresProcess, wait_until

CONNECT_TIMEOUT = 2.0
"""`STACKKIT_DATABASE_CONNECT_TIMEOUT` of the drill's app, in seconds."""
SLACK = 3.0
"""Seconds a request may take past that timeout: the rest of its work, on a loaded CI
machine (the drill measures tenths). A request that hangs takes the client's 10 s."""
RECOVER_WITHIN = 10.0
"""Seconds, from PostgreSQL answering again, by which writes succeed again."""


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresProcess]:
    with throwaway(PostgresProcess()) as server:
        yield server


@pytest.fixture(scope="module")
def postgres_app(admin: Account, postgres: PostgresProcess) -> Iterator[GeneratedAppServer]:
    settings = {
        "DATABASE_URL": postgres.url,
        "STACKKIT_DATABASE_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        **UNLIMITED,
    }
    with served(GeneratedAppServer(admin, settings=settings)) as server:
        yield server


def test_postgres_stopped_under_load(
    postgres_app: GeneratedAppServer, postgres: PostgresProcess, addresses: Iterator[str]
) -> None:
    url = postgres_app.url
    writer, reader = (sign_up(url, next(addresses)) for _ in range(2))
    title_prefix = f"drill {uuid.uuid4().hex[:8]}"

    def create() -> tuple[str, Answer]:
        note = {"title": f"{title_prefix} {uuid.uuid4()}"}
        return "create", writer.client.send("POST", "/api/notes", json=note)

    def read() -> tuple[str, Answer]:
        return "read", reader.client.send("GET", "/api/notes?limit=5")

    def who() -> tuple[str, Answer]:
        return "me", reader.client.send("GET", "/api/auth/me")

    with Load([create, create, read, who], max_requests=3000, max_seconds=60) as load:
        load.wait_for(100)

        stopping_at = time.monotonic()
        postgres.stop(keep_data=True)
        stopped_at = time.monotonic()
        load.wait_for(60, since=stopped_at)
        ready = Client(url, next(addresses)).send("GET", "/readyz")
        assert ready.status == 503, ready.body
        assert ready.json()["checks"]["database"] != "ok"

        starting_at = time.monotonic()
        postgres.start()
        back_at = time.monotonic()
        recovered_in = wait_for_writes(load, back_at)

        load.wait_for(100, since=time.monotonic())
    samples = load.samples()

    assert [s for s in samples if s.status == NO_ANSWER] == []
    assert [s.status for s in samples if s.status >= 500 and s.status != 503] == []
    away = [s for s in samples if stopped_at <= s.started and s.started + s.seconds <= starting_at]
    assert {s.kind for s in away} == {"create", "read", "me"}
    for sample in away:
        assert sample.status == 503 or (sample.kind == "read" and sample.status == 200), sample
        if sample.status == 503:
            assert sample.answer is not None
            assert sample.answer.content_type == "application/problem+json"
            assert sample.header("retry-after") == "5"
    # Nothing hangs: each answer came within the connect timeout (and the rest of its work).
    slowest = max(s.seconds for s in samples)
    assert slowest <= CONNECT_TIMEOUT + SLACK, slowest
    # Before the stop, everything was served.
    assert {s.status for s in samples if s.started + s.seconds < stopping_at} <= {200, 201}

    # Every note answered 201 is in the database, and no note is there twice.
    created = {s.answer.json()["title"] for s in samples if s.status == 201 and s.answer}
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT title, count(*) FROM notes WHERE title LIKE %s GROUP BY title",
            (f"{title_prefix} %",),
        ).fetchall()
    stored: dict[str, int] = dict(rows)
    assert created - stored.keys() == set()
    assert {title: count for title, count in stored.items() if count > 1} == {}
    refused = sum(1 for s in samples if s.kind == "create" and s.status == 503)
    print(
        f"\n{len(samples)} requests, {len(away)} while PostgreSQL was away "
        f"({sum(1 for s in away if s.status == 503)} answered 503); slowest {slowest:.2f} s; "
        f"writes back {recovered_in:.2f} s after PostgreSQL; {len(created)} notes answered "
        f"201 and stored once; {refused} refused; {len(stored) - len(created)} stored "
        "though not answered 201"
    )


def wait_for_writes(load: Load, since: float) -> float:
    """Seconds from `since` until a note is created again.

    Raises:
        ServiceUnavailable: none within `RECOVER_WITHIN` seconds.
    """
    wait_until(
        lambda: any(s.status == 201 for s in load.samples(since, "create")),
        timeout=RECOVER_WITHIN,
        description=f"no write succeeded {RECOVER_WITHIN:g} s after PostgreSQL was back",
    )
    return time.monotonic() - since
