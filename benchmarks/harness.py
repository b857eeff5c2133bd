"""What the benchmark scripts share: uvicorn servers on loopback ports, wrk loads, Redis
clean-up, and the `Row` each script's `measure()` returns for `run_all.py`'s table."""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis

__all__ = [
    "Load",
    "Row",
    "count_keys",
    "free_port",
    "parse_load",
    "remove_keys",
    "serve",
    "wait_for_port",
    "wrk",
]


@dataclass(frozen=True)
class Row:
    """One comparison of stackkit with its baseline, as `run_all.py` prints it.

    `ratio` reads the way `goal` does: stackkit's figure over the baseline's for
    rates (higher is better), for times (lower is better), or for sizes (against a
    budget). `met` is None where no goal is set.
    """

    benchmark: str
    stackkit: str
    baseline: str
    ratio: float | None
    goal: str = ""
    met: bool | None = None


@dataclass(frozen=True)
class Load:
    """What one wrk run measured."""

    rate: float
    """Requests a second."""
    requests: int
    """Requests answered in all."""
    p99_ms: float
    errors: int
    """Socket errors and responses that were not 2xx or 3xx."""


def wrk(
    url: str,
    seconds: int,
    *,
    connections: int = 32,
    headers: dict[str, str] | None = None,
    script: Path | None = None,
    threads: int = 2,
) -> str:
    """wrk's report of a `seconds`-long load of `url` (on 127.0.0.1), two threads by
    default; wrk stops itself after `seconds`, and is killed if it runs 30 s past that."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"wrk targets 127.0.0.1 only, not {url}")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command += ["-s", str(script)] if script else []
    command.append(url)
    result = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 30
    )
    return result.stdout


def parse_load(output: str) -> Load:
    """Requests/s, p99 and errors from a wrk report."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    p99, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    # wrk prints these two lines only when there are such errors.
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(map(int, socket_errors.groups()))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    return Load(rate, requests, float(p99) * scale, errors)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(
    target: str, port: int, log: Path, environment: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `uvicorn <target> --factory --no-proxy-headers` (a module in benchmarks/) on
    127.0.0.1:`port`, one worker on uvloop and httptools, in `log`'s folder (so that no
    `.env` elsewhere adds settings); wait until it accepts connections."""
    command = [
        *(sys.executable, "-m", "uvicorn", target, "--factory"),
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--loop", "uvloop", "--http", "httptools"),
        *("--no-access-log", "--log-level", "warning"),
        "--no-proxy-headers",  # as `stackkit run` serves: STACKKIT_TRUSTED_PROXIES decides
    ]
    # benchmarks/ first; a PYTHONPATH already set (a checkout of other code to compare
    # with) after it.
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, **(environment or {}), "PYTHONPATH": path}
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=output, env=env, cwd=log.parent
        )
    return wait_for_port(process, port, log, target)


def wait_for_port(
    process: subprocess.Popen[bytes], port: int, log: Path, name: str, timeout: float = 20
) -> subprocess.Popen[bytes]:
    """`process` once it accepts connections on 127.0.0.1:`port`; killed, and the run
    stopped with its `log`, if it does not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{name} did not start; see {log}:\n{log.read_text()}")


def count_keys(redis_url: str, prefix: str) -> int:
    with redis.Redis.from_url(redis_url) as client:
        return sum(1 for _ in client.scan_iter(match=f"{prefix}*", count=1000))


def remove_keys(redis_url: str, prefix: str, *, cluster: bool = False) -> None:
    """Delete the run's keys (on every node of a cluster); a Redis that does not answer
    gets a warning, not a traceback hiding the run's own error. (Not
    `stackkit.testing.delete_keys`: that package needs pytest, which a benchmark
    environment may not have.)"""
    try:
        if cluster:
            with redis.RedisCluster.from_url(redis_url) as nodes:
                for key in list(nodes.scan_iter(match=f"{prefix}*", count=1000)):
                    nodes.delete(key)
            return
        with redis.Redis.from_url(redis_url) as client:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            for start in range(0, len(keys), 1000):
                client.delete(*keys[start : start + 1000])
    except redis.RedisError as error:
        print(f"warning: keys {prefix}* not deleted from {redis_url}: {error}", file=sys.stderr)


def add_database_url(parser: argparse.ArgumentParser, default: str) -> None:
    """`--database-url`: a PostgreSQL server to make a scratch database on (default: the
    environment's `STACKKIT_BENCH_DATABASE_URL`, else `default`)."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get("STACKKIT_BENCH_DATABASE_URL", default),
        help="a PostgreSQL server on 127.0.0.1, as a user that may create databases",
    )
