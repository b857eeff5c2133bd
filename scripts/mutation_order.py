"""pytest plugin for mutation runs (`[tool.mutmut] pytest_add_cli_args`): likely killers first.

For each mutant, mutmut 3 runs every test that reached the mutated function, in no
particular order, and stops at the first failure (`-x`). A mutant of the middleware is
reached by some 600 tests, so a kill could wait minutes behind unrelated tests. This
puts first the test file named after the mutated module (`tests/middleware/
test_body_limit.py` for `stackkit.middleware.body_limit`), then the rest of that
package's tests, then the others; fastest file first within each group (durations from
mutmut's stats), each file's tests in pytest's order. The same tests run either way,
so no verdict changes: a mutant that survives still runs them all.

Tests that have killed another mutant of the same function come before all of these,
the latest killer first: most mutants of a function fall to the same few tests, and
mutmut numbers a function's mutants in the order of its lines, so the mutant just
before this one was most likely in the same statement, or the same nested handler
(`mutation-killers.txt` in mutants/, one line per kill, appended by the runs of all
workers; remove it with mutants/).

With `MUTATION_TESTS=package` in the environment, only the mutated package's own tests
run (`tests/middleware/` for a mutant of `stackkit.middleware`). A survivor then costs
seconds instead of minutes, and the score is stricter: a mutant counts as killed only
when the tests written for its package catch it.

Outside a mutant's run (mutmut's stats, clean and forced-fail runs) it does nothing.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

KILLERS = Path("mutation-killers.txt")


def _mutant() -> str:
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    return mutant if "__mutmut_" in mutant else ""


def _function_of(mutant: str) -> str:
    return mutant.partition("__mutmut_")[0]


def _killers_of(function: str) -> dict[str, int]:
    """The tests that killed a mutant of `function`, each with how recent its last kill
    is (0: the latest)."""
    try:
        lines = KILLERS.read_text().splitlines()
    except OSError:
        return {}
    tests = [test for name, _, test in (line.partition("\t") for line in lines) if name == function]
    ages: dict[str, int] = {}
    for age, test in enumerate(reversed(tests)):
        ages.setdefault(test, age)
    return ages


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    mutant = _mutant()
    if mutant and report.failed:
        # One short line per write: appends from several workers do not interleave.
        with KILLERS.open("a") as killers:
            killers.write(f"{_function_of(mutant)}\t{report.nodeid}\n")


@pytest.hookimpl(trylast=True)  # after pytest's own reordering by fixture scope
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mutant = _mutant()
    if not mutant:
        return
    killers = _killers_of(_function_of(mutant))
    # stackkit.middleware.body_limit.x__too_large__mutmut_3 -> ["middleware", "body_limit"]
    module = mutant.partition("__mutmut_")[0].rpartition(".")[0].split(".")[1:]
    if not module:
        return
    package = "/".join(["tests", *module[:-1]]) + "/"
    try:
        durations = json.loads(Path("mutmut-stats.json").read_text())["duration_by_test"]
    except (OSError, ValueError, KeyError):
        durations = {}

    file_time: dict[str, float] = defaultdict(float)
    for item in items:
        file_time[item.nodeid.partition("::")[0]] += durations.get(item.nodeid, 0.0)

    def rank(item: pytest.Item) -> tuple[int, float, str]:
        path = item.nodeid.partition("::")[0]
        if not path.startswith(package):
            group = 3
        elif item.nodeid in killers:
            return 0, killers[item.nodeid], ""
        elif module[-1] in Path(path).stem:
            group = 1
        else:
            group = 2
        return group, file_time[path], path

    items.sort(key=rank)  # stable: each file's tests keep their order
    if os.environ.get("MUTATION_TESTS") == "package":
        others = [item for item in items if rank(item)[0] == 3]
        if others:  # none of the package's tests reached it: pytest exits 5, "no tests"
            config.hook.pytest_deselected(items=others)
            del items[len(items) - len(others) :]
