"""Where each microsecond of a generated app's request goes: the app called in-process.

Generates a project (`note title:str body:text`, see `generated_project.py`), signs
a user in, adds 10 notes, and calls the app's ASGI callable directly (no server,
no sockets, on uvloop as `stackkit run` serves) with the authenticated list
`GET /api/notes`:

- the whole request, cached (a hit) and uncached (`STACKKIT_CACHE_TTL=0`), against
  bare Starlette answering the same bytes on one route;
- per middleware: the request timed from each layer inward, so that a layer's cost
  is its figure less the next one's (the scope each layer saw is replayed to it);
- one access-log line, text and JSON, written to /dev/null;
- on Redis, the round trips per request (`total_reads_processed` of `INFO stats`);
  on a Redis Cluster (a throwaway three-node one with `--cluster`, started from the
  `redis-server` on PATH), those of each node: goal, one per node involved.

    python benchmarks/request_path.py [--redis-url redis://127.0.0.1:6379/0]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--cluster]
        [--n 5000]

Without the URLs, the embedded defaults (SQLite, in-process stores) only.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import redis
import uvloop
from generated_project import EMAIL, PASSWORD, Project, make_project
from harness import Row
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials
from starlette.responses import Response
from starlette.routing import Route

from stackkit.auth.authentication import AuthenticatedUser

ACCESS_LOG_GOAL_US = 3.0
LIST_PATH = "/api/notes"
RATE_LIMIT = "1000000/second"
"""Counted on every request, never reached by the benchmark."""

Scope = dict[str, Any]


class Reply:
    """What one in-process call answered."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self.body = b""

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = dict(message.get("headers", ()))
            self.body = b""
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


async def _receive_nothing() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def request_scope(method: str, path: str, token: str | None = None, body: bytes = b"") -> Scope:
    headers = [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    path, _, query = path.partition("?")
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1", "method": method, "scheme": "http", "path": path,
        "raw_path": path.encode(), "root_path": "", "query_string": query.encode(),
        "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "state": {},
    }  # fmt: skip


async def call(app: Any, scope: Scope, body: bytes = b"") -> Reply:
    reply = Reply()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    await app(dict(scope, state={}), receive, reply.send)
    return reply


async def per_call_us(run: Callable[[], Awaitable[object]], n: int, rounds: int = 5) -> float:
    """Microseconds per call: the median of `rounds` timings of `n` calls."""
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            await run()
        timings.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(timings)


def bare_starlette(body: bytes) -> Starlette:
    async def notes(_: Any) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route(LIST_PATH, notes)])


class Loaded:
    """The project's app, imported in this process with its lifespan running."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.app: Any = None
        self._lifespan: Any = None

    async def __aenter__(self) -> Loaded:
        os.chdir(self.project.root)  # its `.env`
        sys.path.insert(0, str(self.project.root))
        for name in [m for m in sys.modules if m.split(".")[0] == self.project.package]:
            del sys.modules[name]
        main = importlib.import_module(f"{self.project.package}.main")
        self.app = main.app
        _quiet_logs()
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._lifespan.__aexit__(*exc)
        sys.path.remove(str(self.project.root))

    async def sign_in_with_notes(self) -> str:
        """A registered, signed-in user with 10 notes; the access token."""
        credentials = f'{{"email":"{EMAIL}","password":"{PASSWORD}"}}'.encode()
        for action in ("register", "login"):
            scope = request_scope("POST", f"/api/auth/{action}", body=credentials)
            login = await call(self.app, scope, credentials)
        if login.status != 200:
            raise SystemExit(f"login: {login.status} {login.body!r}")
        token = str(json.loads(login.body)["access_token"])
        for number in range(10):
            note = f'{{"title":"note {number}","body":"the body of note {number}"}}'.encode()
            made = await call(self.app, request_scope("POST", LIST_PATH, token, note), note)
            if made.status != 201:
                raise SystemExit(f"POST {LIST_PATH}: {made.status} {made.body!r}")
        return token


def _quiet_logs() -> None:
    """The stackkit handler writes to /dev/null: what a line costs is measured, not a
    terminal's speed."""
    for handler in logging.getLogger("stackkit").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115


def layers(app: Starlette) -> list[Any]:
    """The app's middleware, outermost first, down to the router."""
    found, layer = [], app.middleware_stack
    while layer is not None:
        found.append(layer)
        layer = getattr(layer, "app", None)
    return found


async def breakdown(app: Starlette, token: str, n: int) -> list[tuple[str, float]]:
    """Each layer's own microseconds on the request: its time inward less the next's."""
    if app.middleware_stack is None:
        app.middleware_stack = app.build_middleware_stack()
    stack = layers(app)
    seen: list[Scope] = []
    originals = []
    for layer in stack:
        inner = getattr(layer, "app", None)
        if inner is None:
            break

        def recorder(next_app: Any) -> Any:
            async def record(scope: Scope, receive: Any, send: Any) -> None:
                seen.append(dict(scope, state=dict(scope.get("state", {}))))
                await next_app(scope, receive, send)

            return record

        originals.append((layer, inner))
        layer.app = recorder(inner)
    scope = request_scope("GET", LIST_PATH, token)
    await call(app, scope)
    for layer, inner in originals:
        layer.app = inner
    entry_scopes = [scope, *seen]
    times = []
    for layer, entered in zip(stack, entry_scopes, strict=False):
        sink = Reply()

        async def run(layer: Any = layer, entered: Scope = entered, sink: Reply = sink) -> None:
            await layer(dict(entered, state=dict(entered["state"])), _receive_nothing, sink.send)

        times.append((type(layer).__name__, await per_call_us(run, n)))
        if sink.status != 200:
            raise SystemExit(f"{type(layer).__name__} answered {sink.status}: {sink.body!r}")
    inner = [t for _, t in times[1:]] + [0.0]
    return [(name, t - next_t) for (name, t), next_t in zip(times, inner, strict=True)]


def access_log_line_us(log_format: str, n: int) -> float:
    """One access line through the app's logging set-up, to /dev/null."""
    from stackkit.logs import configure_logging
    from stackkit.middleware.request_id import RequestIdMiddleware

    configure_logging("INFO", log_format)  # type: ignore[arg-type]
    _quiet_logs()
    sink = Reply()

    async def endpoint(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    logged = RequestIdMiddleware(endpoint, access_log=True)
    quiet = RequestIdMiddleware(endpoint, access_log=False)
    scope = request_scope("GET", LIST_PATH)

    async def with_log() -> None:
        await logged(dict(scope), _receive_nothing, sink.send)

    async def without_log() -> None:
        await quiet(dict(scope), _receive_nothing, sink.send)

    async def both() -> float:
        # Rounds that take the two in turn; the median of their differences, so that a
        # slow spell of the machine weighs on both sides of one difference.
        differences = []
        for _ in range(9):
            logged_us = await per_call_us(with_log, n, rounds=1)
            differences.append(logged_us - await per_call_us(without_log, n, rounds=1))
        return statistics.median(differences)

    return uvloop.run(both())


class RedisReads:
    """The reads (round trips) each server has served: the one server, or each primary
    of a cluster, through connections opened once (their handshakes counted before)."""

    def __init__(self, redis_url: str, cluster: bool = False) -> None:
        if cluster:
            with redis.RedisCluster.from_url(redis_url) as cluster_client:
                nodes = [(node.host, node.port) for node in cluster_client.get_primaries()]
            self.servers = [redis.Redis(host=host, port=port) for host, port in nodes]
        else:
            self.servers = [redis.Redis.from_url(redis_url)]

    def now(self) -> list[int]:
        """So far, per server (this INFO is one of each)."""
        return [int(server.info("stats")["total_reads_processed"]) for server in self.servers]

    def close(self) -> None:
        for server in self.servers:
            server.close()


async def measure_project(project: Project, n: int) -> dict[str, Any]:
    """Figures of one project: cached and bare Starlette, the breakdown, Redis trips."""
    async with Loaded(project) as loaded:
        token = await loaded.sign_in_with_notes()
        scope = request_scope("GET", LIST_PATH, token)
        first = await call(loaded.app, scope)
        hit = await call(loaded.app, scope)
        if hit.status != 200 or hit.headers.get(b"cache-status", b"").find(b"hit") < 0:
            raise SystemExit(f"no cache hit: {hit.status} {hit.headers}")
        bare = bare_starlette(first.body)
        figures: dict[str, Any] = {}
        figures["stackkit"] = await per_call_us(lambda: call(loaded.app, scope), n)
        last = await call(loaded.app, scope)
        if last.status != 200 or b"hit" not in last.headers.get(b"cache-status", b""):
            raise SystemExit(f"after timing, no cache hit: {last.status} {last.body!r}")
        figures["bare"] = await per_call_us(lambda: call(bare, request_scope("GET", LIST_PATH)), n)
        if project.redis_url:
            reads = RedisReads(project.redis_url, project.redis_cluster)
            before = reads.now()
            calls = 200
            for _ in range(calls):
                await call(loaded.app, scope)
            after = reads.now()
            reads.close()
            trips = [(a - b - 1) / calls for a, b in zip(after, before, strict=True)]
            figures["redis_trips"] = sum(trips)
            figures["redis_trips_per_node"] = trips
        figures["layers"] = await breakdown(loaded.app, token, n)
        if project.redis_url is None:
            figures["steps"] = await hit_path_steps(loaded.app, scope, n)
        return figures


async def hit_path_steps(app: Starlette, scope: Scope, n: int) -> list[tuple[str, float]]:
    """What `HitPathMiddleware` spends a cached GET on, step by step, in this process's
    stores: each step timed on its own, with what the request gives it. Alone, in a
    tight loop, a step runs faster than among the others (warm caches): together they
    come to less than the whole."""
    try:
        from stackkit.middleware.hit_path import HitPathMiddleware
        from stackkit.middleware.response_cache import current_entry
    except ImportError:  # stackkit from before the hit path, run for comparison
        return []

    hit_path = next(layer for layer in layers(app) if isinstance(layer, HitPathMiddleware))
    assert hit_path.tokens is not None
    assert hit_path.sessions is not None
    tokens, sessions, store, limiter = (
        hit_path.tokens, hit_path.sessions, hit_path.store, hit_path.limiter,
    )  # fmt: skip
    token = dict(scope["headers"])[b"authorization"].decode().partition(" ")[2]
    claims = tokens.verify(token)
    user = AuthenticatedUser(claims)
    seen = {**scope, "user": user, "auth": AuthCredentials(["authenticated", *user.roles])}
    keys = hit_path.lookup_keys(seen)
    planned = hit_path.plan(seen)
    assert keys is not None
    assert planned is not None
    values = await store.get_many([keys.version, keys.entry])
    entry = current_entry(values)
    assert entry is not None
    decision = await limiter.hit(planned.key, planned.limit)

    async def verify() -> None:
        tokens.verify(str(token))  # a new string each time, as from a request

    async def session() -> None:
        await sessions.is_alive(claims.session_id, claims.subject)

    async def lookup() -> None:
        current_entry(await store.get_many([keys.version, keys.entry]))

    async def limit() -> None:
        await limiter.hit(planned.key, planned.limit)

    async def discard(message: Any) -> None:
        pass

    async def answer() -> None:
        await hit_path._send(scope, discard, entry, decision, None, time.perf_counter())

    steps = [
        ("token verified (table)", verify),
        ("session read", session),
        ("entry read and decoded", lookup),
        ("limit counted", limit),
        ("answer sent, access line", answer),
    ]
    return [(name, await per_call_us(run, n)) for name, run in steps]


def _measure_in_child(project: Project, n: int) -> dict[str, Any]:
    return uvloop.run(measure_project(project, n))  # the loop `stackkit run` serves on


def report(label: str, figures: dict[str, Any]) -> list[str]:
    lines = [
        f"{label}: cached GET {figures['stackkit']:.1f} us, bare Starlette {figures['bare']:.1f} us"
        f" ({figures['bare'] / figures['stackkit']:.2f}x)"
    ]
    if "redis_trips" in figures:
        lines.append(f"  Redis round trips per request: {figures['redis_trips']:.2f}")
    if len(figures.get("redis_trips_per_node", [])) > 1:
        nodes = ", ".join(f"{trips:.2f}" for trips in figures["redis_trips_per_node"])
        lines.append(f"  per node: {nodes} (goal: at most 1 each)")
    lines += [f"  {name:<32} {us:7.1f} us" for name, us in figures["layers"]]
    if figures.get("steps"):
        lines.append("  the hit path's steps, each alone:")
        lines += [f"    {name:<30} {us:7.1f} us" for name, us in figures["steps"]]
    return lines


def in_own_process(project: Project, child: Callable[[Project, int], Any], n: int) -> Any:
    """`child(project, n)` in a fresh process (a project's models can be declared once
    per process); the project is removed afterwards."""
    here = os.getcwd()
    try:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            return pool.submit(child, project, n).result()
    finally:
        os.chdir(here)
        project.remove()


def _measure_setup(
    postgres: str | None, cache: str | None, clustered: bool, n: int
) -> dict[str, Any]:
    project = make_project(postgres, cache, redis_cluster=clustered, stackkit_rate_limit=RATE_LIMIT)
    return in_own_process(project, _measure_in_child, n)  # type: ignore[no-any-return]


def _throwaway_cluster(servers: contextlib.ExitStack) -> tuple[str | None, str]:
    """A three-node Redis Cluster of this run's own, stopped with `servers`; or None and
    why not."""
    try:
        from stackkit.testing import RedisClusterProcess
    except ImportError as error:  # the testing helpers need pytest
        return None, f"stackkit.testing: {error}"
    reason = RedisClusterProcess.unavailable_reason()
    if reason:
        return None, reason
    return servers.enter_context(RedisClusterProcess()).url, ""


def measure(
    *,
    redis_url: str | None = None,
    database_url: str | None = None,
    cluster: bool = False,
    n: int = 2000,
) -> list[Row]:
    rows = []
    lines = []
    with contextlib.ExitStack() as servers:
        setups = [("embedded", None, None, False)]
        if redis_url and database_url:
            setups.append(("PostgreSQL + Redis", database_url, redis_url, False))
        if cluster:
            cluster_url, why_not = _throwaway_cluster(servers)
            if cluster_url is None:
                lines.append(f"Redis Cluster: not measured ({why_not})")
            else:
                setups.append(("SQLite + Redis Cluster", None, cluster_url, True))
        for label, postgres, cache, clustered in setups:
            figures = _measure_setup(postgres, cache, clustered, n)
            lines += report(label, figures)
            rows.append(
                Row(
                    f"in-process cached GET, {label}",
                    f"{figures['stackkit']:.1f} us",
                    f"{figures['bare']:.1f} us",
                    figures["bare"] / figures["stackkit"],
                )
            )
            per_node = figures.get("redis_trips_per_node", [])
            if clustered:
                rows.append(
                    Row(
                        "Redis Cluster: round trips per cached GET, on the busiest node",
                        f"{max(per_node):.2f}",
                        "1 per node involved",
                        max(per_node),
                        "<= 1",
                        max(per_node) <= 1.05,
                    )
                )
    for log_format in ("text", "json"):
        cost = access_log_line_us(log_format, 5 * n)
        lines.append(f"access-log line, {log_format}: {cost:.2f} us")
        rows.append(
            Row(
                f"access-log line ({log_format})",
                f"{cost:.2f} us",
                f"{ACCESS_LOG_GOAL_US:.0f} us budget",
                cost / ACCESS_LOG_GOAL_US,
                "<= 1.0x",
                cost <= ACCESS_LOG_GOAL_US,
            )
        )
    print("\n".join(lines))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    parser.add_argument("--cluster", action="store_true", help="a throwaway Redis Cluster too")
    parser.add_argument("--n", type=int, default=2000, help="calls per timing")
    args = parser.parse_args()
    measure(
        redis_url=args.redis_url, database_url=args.database_url, cluster=args.cluster, n=args.n
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
