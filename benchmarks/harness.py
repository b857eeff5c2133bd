"""What the benchmark scripts share: uvicorn servers on loopback ports, Redis clean-up."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

__all__ = ["count_keys", "free_port", "remove_keys", "serve"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(
    target: str, port: int, log: Path, environment: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `uvicorn <target> --factory` (a module in benchmarks/) on 127.0.0.1:`port`,
    one worker on uvloop and httptools, in `log`'s folder (so that no `.env` elsewhere
    adds settings); wait until it accepts connections."""
    command = [
        *(sys.executable, "-m", "uvicorn", target, "--factory"),
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--loop", "uvloop", "--http", "httptools"),
        *("--no-access-log", "--log-level", "warning"),
    ]
    env = {**os.environ, **(environment or {}), "PYTHONPATH": str(Path(__file__).parent)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=output, env=env, cwd=log.parent
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{target} did not start; see {log}:\n{log.read_text()}")


def count_keys(redis_url: str, prefix: str) -> int:
    with redis.Redis.from_url(redis_url) as client:
        return sum(1 for _ in client.scan_iter(match=f"{prefix}*", count=1000))


def remove_keys(redis_url: str, prefix: str) -> None:
    """Delete the run's keys; a Redis that does not answer gets a warning, not a traceback
    hiding the run's own error. (Not `stackkit.testing.delete_keys`: that package needs
    pytest, which a benchmark environment may not have.)"""
    try:
        with redis.Redis.from_url(redis_url) as client:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            for start in range(0, len(keys), 1000):
                client.delete(*keys[start : start + 1000])
    except redis.RedisError as error:
        print(f"warning: keys {prefix}* not deleted from {redis_url}: {error}", file=sys.stderr)
