"""What stackkit's app core costs per request, against bare Starlette, in one run.

Serves `GET /api/items` (the same 10-item JSON list) from one uvicorn worker
(uvloop, httptools) for each app below, loads it with wrk over loopback (32
connections), and prints requests/s, p99 latency and the ratio to bare
Starlette. Each figure is the median of `--rounds` rounds; the rounds take the
apps in turn, so that a slow spell of the machine hits them all alike.

    python benchmarks/core_overhead.py [--seconds 5] [--rounds 3]

Needs `wrk` on PATH (Debian: `apt-get install wrk`). Targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from harness import Load, Row, free_port, parse_load, serve, wrk
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from stackkit import Controller, Settings, create_app

ITEMS = [{"id": n, "name": f"item {n}", "price": n * 1.5} for n in range(1, 11)]


class Item(BaseModel):
    id: int
    name: str
    price: float


def bare_app() -> Starlette:
    async def list_items(request: object) -> JSONResponse:
        return JSONResponse(ITEMS)

    return Starlette(routes=[Route("/api/items", list_items)])


def _stackkit_app(*, access_log: bool) -> Starlette:
    items = Controller("/api/items", public=True)
    models = [Item(**item) for item in ITEMS]

    @items.get("")
    async def list_items() -> list[Item]:
        return models

    # The response cache off (every request reaches the handler) and a limit no load here
    # reaches (every request pays the rate-limit check, none is refused).
    settings = Settings(
        env="test",
        database_url="sqlite:///:memory:",
        access_log=access_log,
        cache_ttl=0,
        rate_limit="1000000000/second",
    )
    return create_app(settings, controllers=[items], backends=[])


def stackkit_app() -> Starlette:
    return _stackkit_app(access_log=True)


def stackkit_app_quiet() -> Starlette:
    return _stackkit_app(access_log=False)


APPS = [
    ("bare Starlette (baseline)", "bare_app"),
    ("stackkit core, access log on", "stackkit_app"),
    ("stackkit core, access log off", "stackkit_app_quiet"),
]


def run(seconds: int, rounds: int) -> dict[str, tuple[float, float]]:
    """(requests/s, p99 ms) of each app, the medians of `rounds` interleaved rounds."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not on PATH (Debian: apt-get install wrk)")
    samples: dict[str, list[Load]] = {label: [] for label, _ in APPS}
    with tempfile.TemporaryDirectory() as folder:
        ports = {label: free_port() for label, _ in APPS}
        servers = []
        try:
            for label, factory in APPS:
                log = Path(folder) / f"{factory}.log"
                servers.append(serve(f"core_overhead:{factory}", ports[label], log))
            for label, _ in APPS:
                wrk(f"http://127.0.0.1:{ports[label]}/api/items", 1)  # warm up
            # Rounds interleave the apps, so that a slow spell of the machine hits all alike.
            for _ in range(rounds):
                for label, _ in APPS:
                    output = wrk(f"http://127.0.0.1:{ports[label]}/api/items", seconds)
                    samples[label].append(parse_load(output))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)
    return {
        label: (
            statistics.median(r.rate for r in loads),
            statistics.median(r.p99_ms for r in loads),
        )
        for label, loads in samples.items()
    }


def measure(seconds: int = 5, rounds: int = 3) -> list[Row]:
    """The stackkit core, access log off and on, against bare Starlette (no goal set)."""
    results = run(seconds, rounds)
    base_rate, base_p99 = results[APPS[0][0]]
    rows = []
    for label, factory in APPS[1:]:
        rate, p99 = results[label]
        log = "off" if factory.endswith("quiet") else "on"
        rows.append(
            Row(
                f"core: app core, access log {log}, vs bare Starlette",
                f"{rate:,.0f} req/s, p99 {p99:.1f} ms",
                f"{base_rate:,.0f} req/s, p99 {base_p99:.1f} ms",
                rate / base_rate,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = run(args.seconds, args.rounds)

    baseline = results[APPS[0][0]][0]
    print(f"{'app':34} {'req/s':>9} {'p99 ms':>8} {'vs bare':>8}")
    for label, (rate, p99) in results.items():
        print(f"{label:34} {rate:9.0f} {p99:8.2f} {rate / baseline:7.2f}x")


if __name__ == "__main__":
    main()
