"""Every benchmark of stackkit against its baseline, in one run, with one table of ratios.

    pip install -e '.[bench]' && python benchmarks/run_all.py [--seconds 3] [--rounds 5]
        [--only peers,core_overhead,...]

Runs, with short settings (about eight minutes on a 2-core machine), each
script's `measure()`:

- `peers`: an authenticated, rate-limited JSON endpoint in stackkit against bare
  Starlette, Litestar and FastAPI (wrk);
- `generated_app`: a generated project served by `stackkit run`, its list cached and
  uncached, against bare Starlette and a hand-written Core handler, on the embedded
  defaults and on PostgreSQL + Redis (wrk; Redis round trips per request);
- `request_path`: the same app called in-process, per middleware, and one access-log
  line;
- `api_key_check`: a request signed with an API key against one with an access token,
  cached and uncached, on both stacks;
- `csv_export`: a resource's CSV export of 100,000 rows against 10,000, in peak
  memory (SQLite and PostgreSQL);
- `core_overhead`: the app core against bare Starlette (wrk);
- `token_check`: the access-token check against a bare PyJWT decode (Redis);
- `repository_list`: `Repository.list` and `.page` against SQLAlchemy Core (PostgreSQL);
- `jobs_queue`: deferring and running jobs through `stackkit.jobs` against procrastinate
  used directly (PostgreSQL);
- `response_cache`: cache hits against the uncached 50-row GET (wrk, PostgreSQL, Redis);
- `ratelimit_checks`: the GCRA against the `limits` library (Redis);
- `memory_store`: `MemoryStore` operations in a store of 100,000 entries against
  one of 1,000;
- `cli_startup`: `stackkit new` and a generated app's start against `python -c pass`;
- `frontend_size`: the login page's JavaScript against its budget.

and prints the machine, the date, the command, and one table: benchmark, stackkit's
figure, the baseline's, the ratio, the goal and whether it was met. The ratio reads
the way the goal does: for rates, stackkit's over the baseline's (higher is
better); for times and sizes, stackkit's over the baseline's or the budget (lower
is better).

Each benchmark runs in a fresh interpreter of its own (the scripts define tables
of the same name, and one's garbage must not weigh on the next), within a time
limit; when it is up, the benchmark is stopped (its servers, scratch database and
Redis keys removed on the way out) and reported as such. Servers and load stay on
127.0.0.1. PostgreSQL comes from `STACKKIT_TEST_DATABASE_URL`, else
postgresql://postgres@127.0.0.1:5432/postgres; Redis from `STACKKIT_TEST_REDIS_URL`,
else redis://127.0.0.1:6379/0. A benchmark whose server (or `wrk`, or the `bench`
extra) is missing is skipped, and the table says why.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import multiprocessing
import os
import platform
import queue
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

from harness import Row

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
VERSIONS = ("starlette", "uvicorn", "pydantic", "PyJWT", "litestar", "fastapi", "slowapi", "limits")


@dataclass(frozen=True)
class Benchmark:
    name: str
    """The script in benchmarks/ (its module name)."""
    needs: tuple[str, ...]
    """What it cannot run without: "wrk", "postgresql", "redis", or a module to import."""
    settings: Callable[[argparse.Namespace, dict[str, str]], dict[str, Any]]
    """Its `measure()` arguments, from the command line and the servers' URLs."""
    limit: Callable[[argparse.Namespace], float]
    """Seconds it may take before it is stopped."""


BENCHMARKS = [
    Benchmark(
        "peers",
        ("wrk", "litestar", "fastapi", "slowapi"),
        lambda a, _: {"seconds": a.seconds, "rounds": a.rounds},
        lambda a: 90 + 5 * a.rounds * (a.seconds + 3),
    ),
    Benchmark(
        "generated_app",
        ("wrk", "postgresql", "redis"),
        lambda a, urls: {
            "database_url": urls["postgresql"],
            "redis_url": urls["redis"],
            "seconds": a.seconds,
            "rounds": min(a.rounds, 3),
        },
        lambda a: 240 + 2 * 5 * min(a.rounds, 3) * (a.seconds + 2),
    ),
    Benchmark(
        "request_path",
        ("postgresql", "redis"),
        lambda a, urls: {
            "database_url": urls["postgresql"],
            "redis_url": urls["redis"],
            "cluster": True,
        },
        lambda a: 300,
    ),
    Benchmark(
        "api_key_check",
        ("postgresql", "redis"),
        lambda a, urls: {"database_url": urls["postgresql"], "redis_url": urls["redis"]},
        lambda a: 300,
    ),
    Benchmark(
        "csv_export",
        ("postgresql",),
        lambda a, urls: {"database_url": urls["postgresql"]},
        lambda a: 420,
    ),
    Benchmark(
        "core_overhead",
        ("wrk",),
        lambda a, _: {"seconds": a.seconds, "rounds": a.rounds},
        lambda a: 90 + 3 * a.rounds * (a.seconds + 3),
    ),
    Benchmark(
        "token_check",
        ("redis",),
        lambda a, urls: {"redis_url": urls["redis"], "rounds": 5, "n": 10_000},
        lambda a: 120,
    ),
    Benchmark(
        "repository_list",
        ("postgresql",),
        lambda a, urls: {"database_url": urls["postgresql"], "rounds": 3, "iterations": 200},
        lambda a: 150,
    ),
    Benchmark(
        "jobs_queue",
        ("postgresql",),
        lambda a, urls: {"database_url": urls["postgresql"], "rounds": 3, "jobs": 300},
        lambda a: 180,
    ),
    Benchmark(
        "response_cache",
        ("wrk", "postgresql", "redis"),
        lambda a, urls: {
            "database_url": urls["postgresql"],
            "redis_url": urls["redis"],
            "seconds": a.seconds,
            "rounds": a.rounds,
        },
        lambda a: 120 + 3 * a.rounds * (a.seconds + 3),
    ),
    Benchmark(
        "ratelimit_checks",
        ("redis", "limits"),
        lambda a, urls: {"redis_url": urls["redis"], "rounds": 5, "checks": 10_000},
        lambda a: 150,
    ),
    Benchmark("memory_store", (), lambda a, _: {"rounds": 5}, lambda a: 120),
    Benchmark("cli_startup", (), lambda a, _: {"rounds": 3}, lambda a: 120),
    Benchmark("frontend_size", (), lambda a, _: {}, lambda a: 30),
]


def _measure_in_child(name: str, settings: dict[str, Any], answers: Any) -> None:
    # Stopped from outside (time is up): leave through the scripts' `finally` blocks, so
    # that servers stop and scratch databases and keys go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped: out of time"))
    try:
        rows = importlib.import_module(name).measure(**settings)
    except BaseException as error:  # SystemExit from a script's own checks included
        answers.put(("failed", f"{type(error).__name__}: {error}"))
    else:
        answers.put(("ok", rows))


def run_one(benchmark: Benchmark, settings: dict[str, Any], limit: float) -> list[Row]:
    """The benchmark's rows, measured in a process of its own; a row saying what went
    wrong when it fails or runs out of time."""
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    child = context.Process(target=_measure_in_child, args=(benchmark.name, settings, answers))
    child.start()
    try:
        outcome, value = answers.get(timeout=limit)
    except queue.Empty:
        outcome, value = "failed", f"stopped after {limit:.0f} s"
    finally:
        child.join(timeout=5)
        if child.is_alive():
            child.terminate()
            child.join(timeout=30)
        if child.is_alive():
            child.kill()
            child.join()
    if outcome == "ok":
        return list(value)
    return [Row(f"{benchmark.name}: FAILED", str(value), "", None)]


def missing(needs: tuple[str, ...], urls: dict[str, str]) -> list[str]:
    """What of `needs` this machine lacks, each said in a few words."""
    lacking = []
    for need in needs:
        if need == "wrk":
            if shutil.which("wrk") is None:
                lacking.append("wrk not on PATH")
        elif need in urls:
            problem = _unreachable(need, urls[need])
            if problem:
                lacking.append(problem)
        elif importlib.util.find_spec(need) is None:
            lacking.append(f"{need} not installed (pip install -e '.[bench]')")
    return lacking


def _unreachable(kind: str, url: str) -> str | None:
    try:
        if kind == "redis":
            import redis

            with redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2) as client:
                client.ping()
        else:
            import psycopg

            with psycopg.connect(url, connect_timeout=2):
                pass
    except Exception as error:
        return (
            f"no {'Redis' if kind == 'redis' else 'PostgreSQL'} at {url} ({type(error).__name__})"
        )
    return None


def machine() -> list[str]:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    versions = []
    for package in ("stackkit", *VERSIONS):
        try:
            versions.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    return [
        f"machine: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}"
        f" ({platform.python_implementation()}); {platform.platform()}",
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"command: {shlex.join(['python', *sys.argv])}",
        f"versions: {', '.join(versions)}",
    ]


def table(rows: list[Row]) -> list[str]:
    """A Markdown table of the rows."""
    lines = [
        "| benchmark | stackkit | baseline | ratio | goal | met? |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row.ratio is None:
            ratio = ""
        elif row.ratio < 0.1:
            ratio = f"{row.ratio:.2g}x"
        else:
            ratio = f"{row.ratio:.2f}x"
        met = {True: "yes", False: "**no**", None: ""}[row.met]
        goal = row.goal or "(none set)"
        lines.append(
            f"| {row.benchmark} | {row.stackkit} | {row.baseline} | {ratio} | {goal} | {met} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of wrk runs")
    names = [benchmark.name for benchmark in BENCHMARKS]
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        default=names,
        help=f"comma-separated, of: {','.join(names)}",
    )
    args = parser.parse_args()
    if min(args.seconds, args.rounds) < 1 or args.seconds > 30 or args.rounds > 10:
        raise SystemExit("--seconds must be 1 to 30 and --rounds 1 to 10")
    unknown = sorted(set(args.only) - set(names))
    if unknown:
        raise SystemExit(f"unknown benchmarks: {', '.join(unknown)}")
    urls = {
        "postgresql": os.environ.get("STACKKIT_TEST_DATABASE_URL") or DEFAULT_DATABASE_URL,
        "redis": os.environ.get("STACKKIT_TEST_REDIS_URL") or DEFAULT_REDIS_URL,
    }
    for kind, url in urls.items():
        if urlsplit(url).hostname != "127.0.0.1":
            raise SystemExit(f"the {kind} URL must point at 127.0.0.1, not {url}")

    header = machine()
    print("\n".join(header), flush=True)
    rows: list[Row] = []
    started = time.monotonic()
    for benchmark in BENCHMARKS:
        if benchmark.name not in args.only:
            continue
        lacking = missing(benchmark.needs, urls)
        if lacking:
            print(f"{benchmark.name}: skipped ({'; '.join(lacking)})", flush=True)
            rows.append(Row(f"{benchmark.name}: skipped", "; ".join(lacking), "", None))
            continue
        print(f"{benchmark.name} ...", end=" ", flush=True)
        began = time.monotonic()
        settings = benchmark.settings(args, urls)
        rows += run_one(benchmark, settings, benchmark.limit(args))
        print(f"{time.monotonic() - began:.0f} s", flush=True)

    print(f"\nall done in {time.monotonic() - started:.0f} s\n")
    print("\n".join(header))
    print()
    print("\n".join(table(rows)))
    missed = [row for row in rows if row.met is False]
    failed = [row for row in rows if row.ratio is None]
    print(f"\n{sum(row.met is True for row in rows)} goals met, {len(missed)} missed", end="")
    print(f", {len(failed)} benchmarks skipped or failed" if failed else "")


if __name__ == "__main__":
    main()
