"""Drill 6: two app processes behind nginx, sharing a Redis Cluster, a PostgreSQL primary
and its streaming replica (`faults/topology.py` builds it).

Most checks talk to each process directly, so that they know which one answered;
the soak (`test_soak.py`'s figures come from here too) goes through nginx.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import psycopg
import pytest

from e2e.server import Account
from faults.client import Answer, Client
from faults.conftest import SignedUp, sign_up
from faults.load import Load, Step, percentile
from faults.topology import LAG_WINDOW, ScaleOut
from stackkit.resources.resource import etag_for
from stackkit.testing import wait_until


@pytest.fixture(scope="module")
def deployment(admin: Account) -> Iterator[ScaleOut]:
    with ScaleOut(admin) as deployment:
        yield deployment


@pytest.fixture
def user(deployment: ScaleOut, addresses: Iterator[str]) -> SignedUp:
    """A new user, signed up on process A."""
    return sign_up(deployment.a.url, next(addresses))


def served(deployment: ScaleOut) -> list[int]:
    """How many requests each app process has logged so far (its access log lines)."""
    return [process.output(1 << 30).count("stackkit.access") for process in deployment.processes]


def on(url: str, client: Client) -> Client:
    """`client`'s visitor and token, talking to `url` instead."""
    return Client(url, client.address, client.token)


def test_a_sign_in_on_one_process_is_honoured_by_the_other(
    deployment: ScaleOut, user: SignedUp, addresses: Iterator[str]
) -> None:
    on_b = on(deployment.b.url, user.client)
    me = on_b.send("GET", "/api/auth/me")
    assert me.status == 200, me.body
    assert me.json()["email"] == user.account.email

    # A refresh on B rotates the session A made; the new access token works on A.
    refreshed = Client(deployment.b.url, next(addresses)).send(
        "POST", "/api/auth/refresh", json={"refresh_token": user.tokens["refresh_token"]}
    )
    assert refreshed.status == 200, refreshed.body
    pair = refreshed.json()
    assert (
        Client(deployment.a.url, user.client.address, pair["access_token"])
        .send("GET", "/api/auth/me")
        .status
        == 200
    )

    # Logging out on B ends the session for A at once.
    out = Client(deployment.b.url, next(addresses)).send(
        "POST", "/api/auth/logout", json={"refresh_token": pair["refresh_token"]}
    )
    assert out.status == 204, out.body
    after = Client(deployment.a.url, user.client.address, pair["access_token"])
    assert after.send("GET", "/api/auth/me").status == 401


def test_rate_limits_are_exact_across_both_processes(
    deployment: ScaleOut, addresses: Iterator[str]
) -> None:
    urls = [deployment.a.url, deployment.b.url]
    # Sign-ins for one account: 5 a minute, wherever they come from and go to.
    guess = {"email": f"nobody-{secrets.token_hex(4)}@example.com", "password": "wrong guess!"}
    per_account = [
        Client(urls[n % 2], next(addresses)).send("POST", "/api/auth/login", json=guess).status
        for n in range(6)
    ]
    assert per_account == [401] * 5 + [429]

    # Sign-ins from one address: 10 a minute, whichever process answers.
    address = next(addresses)
    per_address = [
        Client(urls[n % 2], address)
        .send(
            "POST",
            "/api/auth/login",
            json={"email": f"n{n}-{secrets.token_hex(4)}@example.com", "password": "wrong!"},
        )
        .status
        for n in range(11)
    ]
    assert per_address == [401] * 10 + [429]


def test_reads_go_to_the_replica_and_a_writer_reads_their_writes(
    deployment: ScaleOut, user: SignedUp
) -> None:
    a, b = user.client, on(deployment.b.url, user.client)

    def titles(client: Client) -> set[str]:
        # A query unlike the earlier ones (a filter that leaves every note in): never
        # answered from the response cache.
        query = urlencode({"title__ne": uuid.uuid4().hex})
        answer = client.send("GET", f"/api/notes?{query}")
        assert answer.status == 200, answer.body
        assert "hit" not in (answer.header("cache-status") or "")
        return {item["title"] for item in answer.json()["items"]}

    with psycopg.connect(deployment.replica.url, autocommit=True) as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            title = f"written on A {uuid.uuid4()}"
            created = a.send("POST", "/api/notes", json={"title": title})
            assert created.status == 201, created.body
            # At once, on the other process: read from the primary, the replica is frozen.
            assert title in titles(b)
            # Once the window has passed, reads go to the replica, which has not replayed it.
            wait_until(
                lambda: title not in titles(b),
                timeout=LAG_WINDOW + 5,
                description="reads did not go back to the replica",
            )
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")
    wait_until(lambda: title in titles(b), timeout=10, description="the replica did not catch up")


def test_a_write_on_one_process_invalidates_the_cache_of_the_other(
    deployment: ScaleOut, user: SignedUp
) -> None:
    a, b = user.client, on(deployment.b.url, user.client)
    created = a.send("POST", "/api/notes", json={"title": "before"})
    assert created.status == 201, created.body
    path = f"/api/notes/{created.json()['id']}"
    wait_until(
        lambda: (a.send("GET", path).header("cache-status") or "").endswith("hit"),
        timeout=LAG_WINDOW + 5,
        description="the note was never served from the cache",
    )

    etag = a.send("GET", path).header("etag") or ""
    changed = b.send("PATCH", path, json={"title": "after"}, headers={"If-Match": etag})
    assert changed.status == 200, changed.body
    fresh = a.send("GET", path)
    assert fresh.status == 200, fresh.body
    assert fresh.json()["title"] == "after"
    assert not (fresh.header("cache-status") or "").endswith("hit")


def test_both_processes_serve_behind_nginx(deployment: ScaleOut, addresses: Iterator[str]) -> None:
    user = sign_up(deployment.nginx.url, next(addresses))
    through_nginx = on(deployment.nginx.url, user.client)
    ids = [f"drill-{uuid.uuid4().hex}" for _ in range(20)]
    statuses = [
        through_nginx.send("GET", "/api/auth/me", headers={"X-Request-ID": request_id}).status
        for request_id in ids
    ]
    assert statuses == [200] * 20

    def answered() -> list[int]:
        """How many of the 20 requests each process has logged (by their request ids)."""
        logs = [process.output(1 << 30) for process in deployment.processes]
        return [sum(f"[{request_id}]" in log for request_id in ids) for log in logs]

    # The processes write their access log lines just after answering: wait for them.
    wait_until(lambda: sum(answered()) == 20, timeout=5, description="20 access log lines")
    assert min(answered()) > 0, answered()


SOAK_SECONDS = 60.0
SOAK_REPORT = Path("artifacts/faults/soak.json")


class SessionCycle:
    """A visitor's whole life, one request per call: register (from an address of
    its own), sign in, refresh five times, ask who they are, log out; then the next."""

    def __init__(self, url: str, addresses: Iterator[str]) -> None:
        self.url = url
        self.addresses = addresses
        self.steps: Iterator[tuple[str, Answer]] = iter(())

    def __call__(self) -> tuple[str, Answer]:
        for kind, answer in self.steps:
            return kind, answer
        self.steps = self._cycle()
        return next(self.steps)

    def _cycle(self) -> Iterator[tuple[str, Answer]]:
        client = Client(self.url, next(self.addresses))
        credentials = {
            "email": f"soak-{secrets.token_hex(6)}@example.com",
            "password": f"soak-{secrets.token_urlsafe(12)}",
        }
        yield "register", client.send("POST", "/api/auth/register", json=credentials)
        answer = client.send("POST", "/api/auth/login", json=credentials)
        yield "login", answer
        pair = answer.json()
        for _ in range(5):
            answer = client.send(
                "POST", "/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
            )
            yield "refresh", answer
            pair = answer.json()
        yield (
            "me",
            Client(self.url, client.address, pair["access_token"]).send("GET", "/api/auth/me"),
        )
        yield (
            "logout",
            client.send("POST", "/api/auth/logout", json={"refresh_token": pair["refresh_token"]}),
        )


class Writer:
    """Creates a note, then changes it (with its ETag), in turn."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.last: Answer | None = None

    def __call__(self) -> tuple[str, Answer]:
        if self.last is None or self.last.status not in (200, 201):
            self.last = self.client.send(
                "POST", "/api/notes", json={"title": f"soak {uuid.uuid4()}"}
            )
            return "create", self.last
        note = self.last.json()
        self.last = None
        headers = {"If-Match": etag_for(note["version"])}
        answer = self.client.send(
            "PATCH", f"/api/notes/{note['id']}", json={"done": True}, headers=headers
        )
        return "change", answer


def test_soak_mixed_load_through_nginx(deployment: ScaleOut, addresses: Iterator[str]) -> None:
    url = deployment.nginx.url
    reader, writer, asker = (sign_up(url, next(addresses)) for _ in range(3))
    for n in range(5):
        assert reader.client.send("POST", "/api/notes", json={"title": f"seed {n}"}).status == 201
    ids = itertools.cycle(
        item["id"] for item in reader.client.send("GET", "/api/notes").json()["items"]
    )
    reader_turn = itertools.count()

    def read() -> tuple[str, Answer]:
        if next(reader_turn) % 2:
            return "list", reader.client.send("GET", "/api/notes?limit=20")
        return "get", reader.client.send("GET", f"/api/notes/{next(ids)}")

    def ask() -> tuple[str, Answer]:
        return "me", asker.client.send("GET", "/api/auth/me")

    steps: list[Step] = [read, Writer(writer.client), SessionCycle(url, addresses), ask]
    before = served(deployment)
    started = time.monotonic()
    with Load(steps, max_requests=100_000, max_seconds=SOAK_SECONDS) as load:
        wait_until(lambda: not load.running, timeout=SOAK_SECONDS + 15, description="soak")
    elapsed = time.monotonic() - started
    samples = load.samples()
    after = served(deployment)

    errors = [s for s in samples if not 200 <= s.status < 300]
    seconds = [s.seconds for s in samples]
    kinds = Counter(s.kind for s in samples)
    by_process = [later - earlier for earlier, later in zip(before, after, strict=True)]
    report = {
        "seconds": round(elapsed, 1),
        "requests": len(samples),
        "throughput_per_second": round(len(samples) / elapsed, 1),
        "p50_ms": round(percentile(seconds, 0.50) * 1000, 1),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 1),
        "errors": len(errors),
        "by_kind": dict(sorted(kinds.items())),
        "p99_ms_by_kind": {
            kind: round(percentile([s.seconds for s in samples if s.kind == kind], 0.99) * 1000, 1)
            for kind in sorted(kinds)
        },
        "served_by_process": by_process,
    }
    SOAK_REPORT.parent.mkdir(parents=True, exist_ok=True)
    SOAK_REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nsoak: {json.dumps(report)}")
    assert errors == [], [(s.kind, s.status, s.answer and s.answer.body[:200]) for s in errors[:5]]
    assert min(by_process) > 0, by_process
    assert {"list", "get", "create", "change", "register", "login", "refresh", "me", "logout"} <= (
        kinds.keys()
    )
