"""Drill 1: Redis killed under load, then started again.

The generated app runs on SQLite and a Redis of the drill's own, which keeps an
append-only file (as a deployment that keeps its sessions does). Three signed-in
users load it: one reads cached endpoints, one creates notes, one asks who they
are. Mid-load the drill kills Redis (SIGKILL), checks what the app answers while it
is away, starts it again and measures how soon caching and shared rate limits are
back. Bounded: 4,000 requests, 60 s.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from e2e.server import Account, GeneratedAppServer, served
from faults.client import Answer, Client
from faults.conftest import UNLIMITED, all_notes, log_in, sign_up, throwaway
from faults.load import NO_ANSWER, Load, Sample
from stackkit.testing import RedisProcess, wait_until

RESUME_WITHIN = 5.0
"""Seconds, from Redis answering again, by which caching and shared limits are back."""


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisProcess]:
    with throwaway(RedisProcess(durable=True)) as server:
        yield server


@pytest.fixture(scope="module")
def redis_app(admin: Account, redis: RedisProcess) -> Iterator[GeneratedAppServer]:
    settings = {"REDIS_URL": redis.url, **UNLIMITED}
    with served(GeneratedAppServer(admin, settings=settings)) as server:
        yield server


def test_redis_killed_under_load(
    redis_app: GeneratedAppServer, redis: RedisProcess, addresses: Iterator[str]
) -> None:
    url = redis_app.url
    reader, writer, checker = (sign_up(url, next(addresses)) for _ in range(3))

    def read() -> tuple[str, Answer]:
        # /api/meta is never written: its entries stay valid, so hits show the cache.
        return "read", reader.client.send("GET", "/api/meta/resources")

    def create() -> tuple[str, Answer]:
        note = {"title": f"load {uuid.uuid4()}"}
        return "create", writer.client.send("POST", "/api/notes", json=note)

    def who() -> tuple[str, Answer]:
        return "me", checker.client.send("GET", "/api/auth/me")

    with Load([read, create, who], max_requests=4000, max_seconds=60) as load:
        load.wait_for(150)
        assert cache_status(load.samples(kind="read")[-1]) == "hit"

        redis.kill()
        killed_at = time.monotonic()
        load.wait_for(150, since=killed_at)

        # Signing in and refreshing need the store: 503, and the client retries later.
        probe = Client(url, next(addresses))
        refused = [
            probe.send("POST", "/api/auth/login", json=credentials(reader.account)),
            probe.send("POST", "/api/auth/refresh", json=refresh_body(reader.tokens)),
        ]
        for answer in refused:
            assert answer.status == 503, answer.body
            assert answer.header("retry-after") == "5"

        starting_at = time.monotonic()
        redis.start()
        back_at = time.monotonic()
        wait_until(
            lambda: cache_and_limits_work(reader.client),
            timeout=RESUME_WITHIN,
            description=f"caching and rate limits not back {RESUME_WITHIN:g} s after Redis",
        )
        resumed_in = time.monotonic() - back_at
        load.wait_for(100, since=time.monotonic())
    samples = load.samples()

    assert [s for s in samples if s.status >= 500 or s.status == NO_ANSWER] == []
    away = [s for s in samples if killed_at <= s.started and s.started + s.seconds <= starting_at]
    assert {s.kind for s in away} == {"read", "create", "me"}
    assert {cache_status(s) for s in away if s.kind == "read"} == {"fwd=bypass"}
    # Bearer tokens are taken on their signature: who they are is still answered.
    assert {s.status for s in away if s.kind == "me"} == {200}
    # Limits fail open: counted nowhere, so every answer shows the whole budget left.
    budget = UNLIMITED["STACKKIT_RATE_LIMIT"].split("/")[0]
    assert {s.header("ratelimit-remaining") for s in away} == {budget}

    # One warning of each part that did without Redis, not one per request.
    log = redis_app.output(1 << 30)
    for warning in ("Sessions not checked", "Response cache bypassed", "Rate limits not checked"):
        assert log.count(warning) == 1, warning

    # The sessions were on disk (Redis's append-only file): they are all still there.
    assert log_in(url, reader.account, next(addresses))["access_token"]
    refreshed = Client(url, next(addresses)).send(
        "POST", "/api/auth/refresh", json=refresh_body(reader.tokens)
    )
    assert refreshed.status == 200, refreshed.body

    # Every note answered 201 is stored, once.
    created = [s.answer.json()["id"] for s in samples if s.status == 201 and s.answer]
    assert sorted(created) == sorted(note["id"] for note in all_notes(writer.client))
    print(
        f"\n{len(samples)} requests, {len(away)} while Redis was away, no 5xx; "
        f"caching and limits back {resumed_in:.2f} s after Redis"
    )


def credentials(account: Account) -> dict[str, str]:
    return {"email": account.email, "password": account.password}


def refresh_body(tokens: dict[str, str]) -> dict[str, str]:
    return {"refresh_token": tokens["refresh_token"]}


def cache_status(sample: Sample) -> str:
    """`hit`, `fwd=miss`, `fwd=bypass`...: the `Cache-Status` of a sample, its name left out."""
    value = sample.header("cache-status") or ""
    return value.removeprefix("stackkit; ").split(";")[0]


def cache_and_limits_work(client: Client) -> bool:
    """Whether a read shows a cache hit and a limit counted in Redis.

    A counted request leaves less than the whole budget; failing open shows all of it.
    Comparing two answers' `RateLimit-Remaining` would not do: at the drill's budget
    (100,000 a minute) a request is earned back every 0.6 ms, so two reads in a row
    often show the same number.
    """
    answer = client.send("GET", "/api/meta/resources")
    budget = int(UNLIMITED["STACKKIT_RATE_LIMIT"].split("/")[0])
    counted = int(answer.header("ratelimit-remaining") or budget) < budget
    return (answer.header("cache-status") or "").endswith("hit") and counted
