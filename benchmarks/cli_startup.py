"""How long `stackkit --help` and `stackkit new` take, and how long a generated app
takes to answer.

Each round runs, as a user's shell would:

1. `stackkit --help`, timed from the process start to its exit;
2. `stackkit new demo` in an empty folder, the same;
3. `stackkit run --port P` in the new project (which migrates a fresh SQLite
   database first), timed from the process start until `GET /healthz` answers.

Baseline, measured in the same run: `python -c pass` (the interpreter alone).
Goals: `stackkit --help` under 0.2 s, `stackkit new` under 1.5 s, the app answering
under 1 s.

    python benchmarks/cli_startup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness import Row, free_port

STACKKIT = str(Path(sys.executable).with_name("stackkit"))
HELP_GOAL, NEW_GOAL, START_GOAL = 0.2, 1.5, 1.0


def _environment() -> dict[str, str]:
    prefixes = ("STACKKIT_", "DATABASE_", "REDIS_", "SECRET_KEY")
    return {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}


def time_command(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, cwd=cwd, env=_environment(), check=True, capture_output=True, timeout=60
    )
    return time.perf_counter() - started


def time_start(project: Path) -> float:
    """Seconds from `stackkit run` starting until the app answers `/healthz`."""
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [STACKKIT, "run", "--port", str(port)],
        cwd=project,
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = started + 30
        while time.perf_counter() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None:
                    raise SystemExit("stackkit run stopped before answering") from None
                time.sleep(0.005)
        raise SystemExit("stackkit run did not answer within 30 s")
    finally:
        server.terminate()
        server.wait(timeout=10)


def run(rounds: int) -> list[tuple[str, float, float | None]]:
    """(step, median seconds, goal in seconds or None) of the baseline and each step."""
    interpreter: list[float] = []
    help_: list[float] = []
    new: list[float] = []
    start: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(rounds + 1):  # the first round warms the disk cache
            work = Path(folder) / f"round{round_}"
            work.mkdir()
            times = (
                time_command([sys.executable, "-c", "pass"], work),
                time_command([STACKKIT, "--help"], work),
                time_command([STACKKIT, "new", "demo"], work),
                time_start(work / "demo"),
            )
            if round_:
                for series, value in zip((interpreter, help_, new, start), times, strict=True):
                    series.append(value)
    return [
        ("python -c pass (baseline)", statistics.median(interpreter), None),
        ("stackkit --help", statistics.median(help_), HELP_GOAL),
        ("stackkit new demo", statistics.median(new), NEW_GOAL),
        ("stackkit run -> /healthz answers", statistics.median(start), START_GOAL),
    ]


def measure(rounds: int = 5) -> list[Row]:
    """`stackkit --help`, `stackkit new` and the generated app's start, against `python -c
    pass`; the goals are the seconds themselves (under 0.2 s, 1.5 s and 1 s)."""
    steps = run(rounds)
    base = steps[0][1]
    return [
        Row(
            f"CLI: {label}",
            f"{seconds:.2f} s",
            f"python -c pass {base:.3f} s",
            seconds / base,
            f"< {goal} s",
            seconds < goal,
        )
        for label, seconds, goal in steps[1:]
        if goal is not None
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = run(args.rounds)
    base = rows[0][1]
    print(f"{args.rounds} rounds, median; Python {sys.version.split()[0]}\n")
    print(f"{'step':<34} | {'seconds':>8} | {'vs python':>9} | goal")
    for label, seconds, goal in rows:
        verdict = "" if goal is None else f"< {goal} s: " + ("met" if seconds < goal else "MISSED")
        print(f"{label:<34} | {seconds:8.3f} | {seconds / base:8.1f}x | {verdict}")


if __name__ == "__main__":
    main()
