"""Mutation score of the modules `[tool.mutmut] only_mutate` names, from mutmut's results.

mutmut 3 keeps one verdict per mutant in `mutants/**/*.meta` and prints only a running
total; it has no score per module, no threshold to fail under, and names survivors
without their line. This script reads those verdicts after `mutmut run` and prints, per
module, per package and overall: killed / total / survived / timeouts / score; then every
mutant no test caught (file:line:column, the mutation, the function, and mutmut's name
for it, which `mutmut show NAME` expands). It exits 1 when the score of some package
(`auth/`, `db/`, ...) is below `--fail-under`, or when some mutant has no verdict yet
(an interrupted run):

    python scripts/mutation_score.py --fail-under 80
    python scripts/mutation_score.py 'stackkit.middleware.*'     # only these mutants
    python scripts/mutation_score.py --markdown SURVIVORS.md   # the survivors, in a file too

score = (killed + timeouts) / mutants with a verdict. A mutant that no test reaches
("no tests") counts as not caught, as does a "suspicious" or "segfault" verdict
(the test run ended some other way, e.g. SIGKILL); each is listed with the survivors.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import io
import json
import os
import re
import subprocess
import sys
import tokenize
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from mutmut.stats import status_by_exit_code

try:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    IN_PROCESS_DIFF = True
except ImportError:  # another mutmut 3 release: `mutmut show` prints the same diff
    IN_PROCESS_DIFF = False

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"

CAUGHT = {"killed", "timeout", "caught by type check"}
NOT_CAUGHT = {"survived", "no tests", "suspicious", "segfault"}
UNFINISHED = {"not checked", "check was interrupted by user"}
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
_LAYOUT = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


@dataclass
class Survivor:
    path: str
    name: str
    status: str
    function: str
    line: int | None = None
    column: int = 1
    mutation: str = ""


def mutated_paths() -> list[str]:
    """The source files mutmut mutates (pyproject's `only_mutate`) that have verdicts."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    patterns: list[str] = settings.get("only_mutate", ["*"])
    metas = sorted(MUTANTS.rglob("*.py.meta"))
    paths = [str(meta.relative_to(MUTANTS))[: -len(".meta")] for meta in metas]
    return [p for p in paths if any(fnmatch.fnmatch(p, pattern) for pattern in patterns)]


def diff_of(name: str, path: str) -> str:
    """The unified diff between the function and its mutant, as `mutmut show` prints it."""
    if IN_PROCESS_DIFF:
        return str(get_diff_for_mutant(name, path=path))
    command = [sys.executable, "-m", "mutmut", "show", name]
    shown = subprocess.run(command, capture_output=True, text=True, check=True)
    return shown.stdout.partition("\n")[2]


def function_name(name: str) -> str:
    """`pkg.mod.xǁClassǁmethod__mutmut_3` -> `Class.method`; `pkg.mod.x_f__mutmut_1` -> `f`."""
    mangled = name.rpartition(".")[2].partition("__mutmut_")[0]
    if mangled.startswith("xǁ"):
        return ".".join(mangled[2:].split("ǁ"))
    return mangled.removeprefix("x_")


def function_span(tree: ast.Module, function: str) -> tuple[int, int]:
    """First and last line of a top-level function or method, decorators included."""
    *classes, name = function.split(".")
    body: list[ast.stmt] = tree.body
    for class_name in classes:
        found = next(n for n in body if isinstance(n, ast.ClassDef) and n.name == class_name)
        body = found.body
    node = next(
        n for n in body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
    )
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return first, node.end_lineno or node.lineno


def _tokens(line: str) -> list[tokenize.TokenInfo]:
    """Python tokens of one line of code; a line may open a bracket it does not close."""
    found: list[tokenize.TokenInfo] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(line).readline):
            if token.type not in _LAYOUT:
                found.append(token)
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


def changed_part(old: str, new: str) -> tuple[str, str, int]:
    """The tokens of `old` that `new` replaces, those that replace them, and where in `old`."""
    before, after = _tokens(old), _tokens(new)
    if not before or not after:
        return old, new, 0
    start = 0
    while start < min(len(before), len(after)) and before[start].string == after[start].string:
        start += 1
    end = 0
    limit = min(len(before), len(after)) - start
    while end < limit and before[-1 - end].string == after[-1 - end].string:
        end += 1

    def span(line: str, tokens: list[tokenize.TokenInfo]) -> str:
        middle = tokens[start : len(tokens) - end]
        return line[middle[0].start[1] : middle[-1].end[1]] if middle else ""

    at = before[start].start[1] if start < len(before) else len(old)
    return span(old, before), span(new, after), at


def shown(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > 90:
        text = text[:87] + "..."
    return f"`{text}`" if text else "(nothing)"


def locate(survivor: Survivor, source_lines: list[str], tree: ast.Module) -> None:
    """Fill in the survivor's line in the source file and a one-line mutation."""
    diff = diff_of(survivor.name, survivor.path)
    before: list[str] = []  # the hunk's context and removed lines: a block of the source
    first_removed: int | None = None
    removed: list[str] = []
    added: list[str] = []
    for line in diff.splitlines():
        if line.startswith(("---", "+++")) or _HUNK.match(line):
            continue
        if line.startswith("-"):
            first_removed = len(before) if first_removed is None else first_removed
            before.append(line[1:])
            removed.append(line[1:])
        elif line.startswith("+"):
            first_removed = len(before) if first_removed is None else first_removed
            added.append(line[1:])
        elif line.startswith(" ") or not line:
            before.append(line[1:])
    offset = 0
    if len(removed) == len(added) == 1:
        old, new, offset = changed_part(removed[0].strip(), added[0].strip())
    else:
        old, new = " ".join(r.strip() for r in removed), " ".join(a.strip() for a in added)
    survivor.mutation = f"{shown(old)} -> {shown(new)}"
    first, last = function_span(tree, survivor.function)
    wanted = [line.strip() for line in before]
    for start in range(first - 1, last - len(wanted) + 1):
        window = [line.strip() for line in source_lines[start : start + len(wanted)]]
        if window == wanted:
            survivor.line = start + 1 + (first_removed or 0)
            text = source_lines[survivor.line - 1]
            survivor.column = len(text) - len(text.lstrip()) + offset + 1
            return
    survivor.line = first  # not found (a comment moved?): the function's first line


def score_of(counts: Counter[str]) -> float | None:
    """Caught / checked, in %; None when no mutant has a verdict."""
    checked = sum(counts[s] for s in CAUGHT | NOT_CAUGHT)
    return 100 * sum(counts[s] for s in CAUGHT) / checked if checked else None


def row(label: str, counts: Counter[str]) -> str:
    total = sum(counts.values()) - counts["skipped"]
    score = score_of(counts)
    missed = counts["no tests"] + counts["suspicious"] + counts["segfault"]
    unchecked = sum(counts[s] for s in UNFINISHED)
    return (
        f"{label:<36} {counts['killed']:>6} {total:>6} {counts['survived']:>8} "
        f"{counts['timeout']:>8} {missed:>7} {unchecked:>9} "
        + (f"{score:6.1f}%" if score is not None else "     -")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument(
        "--fail-under", type=float, default=0.0, help="minimum score of each package, %%"
    )
    parser.add_argument("--markdown", type=Path, help="also write the survivors to this file")
    parser.add_argument(
        "names", nargs="*", help="score only these mutants, named as for `mutmut run` (globs)"
    )
    arguments = parser.parse_args()
    os.chdir(ROOT)  # mutmut reads mutants/ and the sources relative to the project

    by_file: dict[str, Counter[str]] = {}
    survivors: list[Survivor] = []
    for path in mutated_paths():
        meta = json.loads((MUTANTS / f"{path}.meta").read_text())
        counts: Counter[str] = Counter()
        for name, exit_code in meta["exit_code_by_key"].items():
            if arguments.names and not any(fnmatch.fnmatch(name, n) for n in arguments.names):
                continue
            status = str(status_by_exit_code[exit_code])
            counts[status] += 1
            if status in NOT_CAUGHT:
                survivors.append(Survivor(path, name, status, function_name(name)))
        if counts:
            by_file[path] = counts
    if not by_file:
        print("No mutmut results in mutants/: run `mutmut run` first.")
        return 1

    header = f"{'module':<36} {'killed':>6} {'total':>6} {'survived':>8} {'timeouts':>8}"
    print(f"{header} {'no test':>7} {'unchecked':>9}  score")
    packages: dict[str, Counter[str]] = defaultdict(Counter)
    overall: Counter[str] = Counter()
    for path, counts in by_file.items():
        module = path.removeprefix("src/stackkit/")
        print(row(module, counts))
        packages[module.partition("/")[0] + "/"] += counts
        overall += counts
    print()
    for package, counts in sorted(packages.items()):
        print(row(package, counts))
    print(row("overall", overall))

    sources: dict[str, tuple[list[str], ast.Module]] = {}
    for survivor in survivors:
        if survivor.path not in sources:
            text = Path(survivor.path).read_text()
            sources[survivor.path] = (text.splitlines(), ast.parse(text))
        locate(survivor, *sources[survivor.path])
    survivors.sort(key=lambda s: (s.path, s.line or 0, s.column, s.name))

    lines: list[str] = []
    for path in dict.fromkeys(s.path for s in survivors):
        lines += ["", f"## {path.removeprefix('src/stackkit/')}", ""]
        for s in (s for s in survivors if s.path == path):
            flag = "" if s.status == "survived" else f" [{s.status}]"
            where = f"{path.removeprefix('src/stackkit/')}:{s.line}:{s.column}"
            lines.append(f"- {where} {s.mutation} in `{s.function}`{flag} ({s.name})")
    print(f"\n{len(survivors)} mutants not caught:" if survivors else "\nNo mutant survived.")
    print("\n".join(lines))
    if arguments.markdown:
        caught = sum(overall[s] for s in CAUGHT)
        checked = caught + sum(overall[s] for s in NOT_CAUGHT)
        heading = f"# Mutants no test caught: {len(survivors)} ({caught}/{checked} caught)\n"
        arguments.markdown.write_text(heading + "\n".join(lines) + "\n")

    unfinished = sum(overall[s] for s in UNFINISHED)
    score = score_of(overall) or 0.0
    print(f"\nscore {score:.1f}% (each package fails under {arguments.fail_under:g}%)")
    under = [
        f"{package} {package_score:.1f}%"
        for package, counts in sorted(packages.items())
        if (package_score := score_of(counts)) is not None and package_score < arguments.fail_under
    ]
    if under:
        print(f"Under {arguments.fail_under:g}%: {', '.join(under)}.")
    if unfinished:
        print(f"{unfinished} mutants have no verdict yet: run `mutmut run` again to finish.")
        return 1
    return 1 if under else 0


if __name__ == "__main__":
    sys.exit(main())
