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
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from harness import free_port, serve
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


def load(port: int, seconds: int) -> tuple[float, float]:
    result = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/api/items"],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))  # type: ignore[union-attr]
    p99, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", result.stdout).groups()  # type: ignore[union-attr]
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rate, float(p99) * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not on PATH (Debian: apt-get install wrk)")

    samples: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in APPS}
    with tempfile.TemporaryDirectory() as folder:
        ports = {label: free_port() for label, _ in APPS}
        servers = [
            serve(f"core_overhead:{factory}", ports[label], Path(folder) / f"{factory}.log")
            for label, factory in APPS
        ]
        try:
            for label, _ in APPS:
                load(ports[label], 1)  # warm up
            # Rounds interleave the apps, so that a slow spell of the machine hits all alike.
            for _ in range(args.rounds):
                for label, _ in APPS:
                    samples[label].append(load(ports[label], args.seconds))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)
    results = {
        label: (statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds))
        for label, rounds in samples.items()
    }

    baseline = results[APPS[0][0]][0]
    print(f"{'app':34} {'req/s':>9} {'p99 ms':>8} {'vs bare':>8}")
    for label, (rate, p99) in results.items():
        print(f"{label:34} {rate:9.0f} {p99:8.2f} {rate / baseline:7.2f}x")


if __name__ == "__main__":
    main()
