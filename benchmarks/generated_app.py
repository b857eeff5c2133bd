"""A generated app as its users run it, against bare Starlette and a hand-written handler.

Generates a project with the CLI (`stackkit new`, `generate resource note
title:str body:text`), signs a user in, adds 10 notes, and serves it with
`stackkit run` (one worker, the defaults: access log on, cache on, rate limit on;
the limit raised so that the load is never refused). Then, with wrk (one thread,
32 connections, over loopback), the authenticated list `GET /api/notes`:

- cached (every request after the first is a hit) against bare Starlette answering
  the same bytes on one route: goal 1.0x on the embedded defaults, 0.5x on
  PostgreSQL + Redis, where the Redis round trips per request are counted too
  (`total_reads_processed` of `INFO stats`, over the run's requests): goal one;
  and bare Starlette sending the app's headers too (security headers, RateLimit-*,
  Cache-Status, ETag, X-Request-ID), against bare Starlette: what the server
  spends on those headers alone, which no app code can win back;
- uncached (`STACKKIT_CACHE_TTL=0`: the handler runs every time) against a
  hand-written Starlette + SQLAlchemy Core handler running the same query and
  answering the same JSON (`generated_baselines.py`): goal 0.8x, on SQLite and on
  PostgreSQL.

Each figure is the median of `--rounds` rounds that take the contenders in turn,
with its p99 beside it.

    python benchmarks/generated_app.py [--seconds 3] [--rounds 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis-url redis://127.0.0.1:6379/0] [--embedded-only]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import redis
from generated_project import EMAIL, PASSWORD, Project, make_project
from harness import Load, Row, free_port, parse_load, serve, wait_for_port, wrk

LIST_PATH = "/api/notes"
RATE_LIMIT = "1000000/second"
"""Counted on every request, never reached by the load."""


@dataclass
class Contender:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    redis_url: str | None = None
    """Count this Redis's round trips during its loads."""
    loads: list[Load] = field(default_factory=list)
    trips: list[float] = field(default_factory=list)

    def run(self, seconds: int) -> None:
        before = _redis_reads(self.redis_url) if self.redis_url else 0
        load = parse_load(wrk(self.url, seconds, headers=self.headers, threads=1))
        if load.errors:
            raise SystemExit(f"{self.name}: {load.errors} errors under load")
        self.loads.append(load)
        if self.redis_url:
            self.trips.append((_redis_reads(self.redis_url) - before) / load.requests)

    @property
    def rate(self) -> float:
        return statistics.median(load.rate for load in self.loads)

    @property
    def p99(self) -> float:
        return statistics.median(load.p99_ms for load in self.loads)

    def figure(self) -> str:
        return f"{self.rate:,.0f} req/s, p99 {self.p99:.1f} ms"


def _redis_reads(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        return int(client.info("stats")["total_reads_processed"])


def _request(url: str, body: dict[str, str] | None = None, token: str | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")  # noqa: S310
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - 127.0.0.1
        return bytes(response.read())


def sign_in(base: str) -> str:
    """The access token of the benchmark's user, signed in at `base`: each server of the
    embedded defaults keeps its own sessions."""
    credentials = {"email": EMAIL, "password": PASSWORD}
    return str(json.loads(_request(f"{base}/api/auth/login", credentials))["access_token"])


def sign_in_with_notes(base: str) -> tuple[str, int]:
    """A user with 10 notes: the access token and the user's id."""
    _request(f"{base}/api/auth/register", {"email": EMAIL, "password": PASSWORD})
    token = sign_in(base)
    for number in range(10):
        note = {"title": f"note {number}", "body": f"the body of note {number}"}
        _request(f"{base}{LIST_PATH}", note, token)
    me = json.loads(_request(f"{base}/api/auth/me", token=token))
    return token, int(me["id"])


def run_project(project: Project, port: int, log: Path, **settings: str) -> subprocess.Popen[bytes]:
    """`stackkit run` in the project, with more settings in its environment."""
    command = [str(Path(sys.executable).with_name("stackkit")), "run", "--port", str(port)]
    env = {**os.environ, **project.environment, **settings}
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=project.root, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    return wait_for_port(process, port, log, "stackkit run")


def compare(
    label: str, project: Project, seconds: int, rounds: int, core_url: str
) -> tuple[list[Row], list[str]]:
    """The four contenders on one project: its rows and a line on the round trips."""
    folder = project.root.parent
    processes: list[subprocess.Popen[bytes]] = []
    ports = {name: free_port() for name in ("cached", "uncached", "bare", "bare_headers", "core")}
    try:
        processes.append(run_project(project, ports["cached"], folder / "cached.log"))
        base = f"http://127.0.0.1:{ports['cached']}"
        token, owner = sign_in_with_notes(base)
        body = _request(f"{base}{LIST_PATH}", token=token)
        (folder / "body.json").write_bytes(body)
        hit_headers = _hit_headers(f"{base}{LIST_PATH}", token)
        (folder / "headers.json").write_text(json.dumps(hit_headers))
        processes.append(
            run_project(project, ports["uncached"], folder / "uncached.log", STACKKIT_CACHE_TTL="0")
        )
        environment = {
            "BENCH_BODY_FILE": str(folder / "body.json"),
            "BENCH_DATABASE_URL": core_url,
            "BENCH_HEADERS_FILE": str(folder / "headers.json"),
            "BENCH_OWNER_ID": str(owner),
        }
        for name in ("bare", "bare_headers", "core"):
            log = folder / f"{name}.log"
            processes.append(serve(f"generated_baselines:{name}", ports[name], log, environment))
        uncached_token = sign_in(f"http://127.0.0.1:{ports['uncached']}")
        headers = {
            "cached": {"Authorization": f"Bearer {token}"},
            "uncached": {"Authorization": f"Bearer {uncached_token}"},
        }
        contenders = {
            name: Contender(
                name,
                f"http://127.0.0.1:{ports[name]}{LIST_PATH}",
                headers.get(name, {}),
                project.redis_url if name == "cached" else None,
            )
            for name in ports
        }
        _check_same_items(contenders, body)
        for contender in contenders.values():
            contender.run(1)  # warm up
            contender.loads.clear()
            contender.trips.clear()
        for _ in range(rounds):
            for contender in contenders.values():
                contender.run(seconds)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    cached, uncached = contenders["cached"], contenders["uncached"]
    bare, core = contenders["bare"], contenders["core"]
    bare_headers = contenders["bare_headers"]
    cached_goal = 1.0 if project.redis_url is None else 0.5
    cached_figure = cached.figure()
    notes = []
    trips_ok = True
    if cached.trips:
        trips = statistics.median(cached.trips)
        trips_ok = trips <= 1.05
        cached_figure += f", {trips:.2f} Redis round trips/request"
        notes.append(f"{label}: {trips:.2f} Redis round trips per cached request (goal 1)")
    rows = [
        Row(
            f"generated app, cached GET, {label}",
            cached_figure,
            f"bare Starlette {bare.figure()}",
            cached.rate / bare.rate,
            f">= {cached_goal}x" + ("; 1 Redis trip" if cached.trips else ""),
            cached.rate / bare.rate >= cached_goal and trips_ok,
        ),
        Row(
            f"bare Starlette with the app's {len(hit_headers) + 1} headers, {label}",
            bare_headers.figure(),
            f"bare Starlette {bare.figure()}",
            bare_headers.rate / bare.rate,
        ),
        Row(
            f"generated app, uncached GET, {label}",
            uncached.figure(),
            f"Starlette + Core {core.figure()}",
            uncached.rate / core.rate,
            ">= 0.8x",
            uncached.rate / core.rate >= 0.8,
        ),
    ]
    return rows, notes


def _hit_headers(url: str, token: str) -> list[tuple[str, str]]:
    """The headers of a cached GET's answer, but those the server adds itself (and the
    `Connection: close` it answers urllib's request with)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - 127.0.0.1
        pairs = list(response.headers.items())
    server_made = ("date", "server", "content-length", "connection", "transfer-encoding")
    return [(k, v) for k, v in pairs if k.lower() not in server_made]


def _check_same_items(contenders: dict[str, Contender], body: bytes) -> None:
    """Every contender answers the same 10 notes, and the cached one from its cache."""
    expected = [item["id"] for item in json.loads(body)["items"]]
    if len(expected) != 10:
        raise SystemExit(f"the list holds {len(expected)} notes, not 10")
    for contender in contenders.values():
        request = urllib.request.Request(contender.url, headers=contender.headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            answer = response.read()
            status = response.headers.get("Cache-Status", "")
        ids = [item["id"] for item in json.loads(answer)["items"]]
        if ids != expected:
            raise SystemExit(f"{contender.name} answers notes {ids}, not {expected}")
        if contender.name == "cached" and "hit" not in status:
            raise SystemExit(f"the cached app says Cache-Status: {status!r}")


def measure(
    *,
    seconds: int = 3,
    rounds: int = 3,
    database_url: str | None = None,
    redis_url: str | None = None,
) -> list[Row]:
    rows: list[Row] = []
    notes: list[str] = []
    setups: list[tuple[str, str | None, str | None]] = [("embedded", None, None)]
    if database_url and redis_url:
        setups.append(("PostgreSQL + Redis", database_url, redis_url))
    for label, postgres, cache in setups:
        project = make_project(postgres, cache, stackkit_rate_limit=RATE_LIMIT)
        try:
            core_url = (
                project.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
                if project.database_url
                else f"sqlite+aiosqlite:///{project.root / 'benchapp.db'}"
            )
            found, said = compare(label, project, seconds, rounds, core_url)
        finally:
            project.remove()
        rows += found
        notes += said
    print("\n".join(notes))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--embedded-only", action="store_true")
    args = parser.parse_args()
    rows = measure(
        seconds=args.seconds,
        rounds=args.rounds,
        database_url=None if args.embedded_only else args.database_url,
        redis_url=None if args.embedded_only else args.redis_url,
    )
    for row in rows:
        print(f"{row.benchmark}: {row.stackkit} | {row.baseline} | {row.ratio:.2f}x ({row.goal})")


if __name__ == "__main__":
    main()
