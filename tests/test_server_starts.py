"""Every place that starts uvicorn keeps its proxy-header handling off.

A client's address comes only from `STACKKIT_TRUSTED_PROXIES`. uvicorn, left to its
defaults, rewrites it from `X-Forwarded-For` on connections from 127.0.0.1, so a
client there could choose its own rate-limit key. This module finds each place in the
repository, and in a freshly generated project, that starts uvicorn, and asks that
it says `--no-proxy-headers` (a command line) or `proxy_headers=False` (Python).
A start through `stackkit run` is fine: `tests/cli/test_run_command.py` holds it to
the same.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackkit.cli.new import create_project

REPO = Path(__file__).resolve().parents[1]
SCANNED = (
    *("README.md", "docs", "src", "examples", "benchmarks"),
    *("e2e", "faults", "tests", "scripts"),
)
SKIPPED_PARTS = {"node_modules", ".venv", "__pycache__", "dist", "web", ".tox"}
SKIPPED_FILES = {
    "CHANGELOG.md",  # history, as it was
    "tests/test_server_starts.py",  # this scanner's own samples
}
TEXT_SUFFIXES = {".py", ".md", ".jinja", ".service", ".yaml", ".yml", ".toml", ".ini", ".sh"}
TEXT_NAMES = {"Dockerfile", "run"}

FLAG = "--no-proxy-headers"
# `uvicorn demo.main:app ...`, `python -m uvicorn demo.main:app ...`, in prose or a shell.
_COMMAND_LINE = re.compile(r"\buvicorn\s+(?!-)[^\s`'\",:]+:[^\s`'\",]+")
# The line that starts a deployed server: a Dockerfile's CMD or ENTRYPOINT, a systemd
# ExecStart, a compose `command:` (exec form included, where the words are quoted).
_START_LINE = re.compile(r"^\s*(CMD|ENTRYPOINT|ExecStart=|command:)")
_UVICORN_CALLS = {"run", "Config"}


@dataclass(frozen=True)
class Start:
    """One place that starts (or tells how to start) uvicorn."""

    where: str
    """`path:line`."""
    text: str
    off: bool
    """Whether the proxy-header handling is off there."""


def starts_in_text(where: str, text: str) -> Iterator[Start]:
    """The uvicorn command lines and deployed start lines of a text (any file)."""
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        command = line
        follow = number
        while command.rstrip().endswith("\\") and follow < len(lines):  # shell continuations
            command += "\n" + lines[follow]
            follow += 1
        if _START_LINE.match(line):
            if "uvicorn" in command:
                yield Start(f"{where}:{number}", line.strip(), FLAG in command)
            elif re.search(r"\bstackkit\W+run\b", command):
                yield Start(f"{where}:{number}", line.strip(), True)
        elif _COMMAND_LINE.search(line):
            yield Start(f"{where}:{number}", line.strip(), FLAG in command)


def starts_in_python(where: str, source: str) -> Iterator[Start]:
    """`uvicorn.run(...)` / `uvicorn.Config(...)` calls, and argument lists that run
    `uvicorn` (`[sys.executable, "-m", "uvicorn", ...]`), of a Python module."""
    tree = ast.parse(source)
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "uvicorn"
        for alias in node.names
        if alias.name in _UVICORN_CALLS
    }
    for statement in (node for node in ast.walk(tree) if isinstance(node, ast.stmt)):
        nested = list(_own_nodes(statement))
        for node in nested:
            if isinstance(node, ast.Call) and _is_uvicorn_call(node.func, imported):
                off = any(
                    k.arg == "proxy_headers"
                    and isinstance(k.value, ast.Constant)
                    and k.value.value is False
                    for k in node.keywords
                )
                yield Start(f"{where}:{node.lineno}", ast.unparse(node.func), off)
            elif isinstance(node, ast.List | ast.Tuple) and _runs_uvicorn(node.elts):
                flags = {n.value for n in nested if isinstance(n, ast.Constant)}
                yield Start(f"{where}:{node.lineno}", "command list", FLAG in flags)


def _own_nodes(statement: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of one statement, without those of statements nested in it."""
    stack: list[ast.AST] = [statement]
    while stack:
        node = stack.pop()
        yield node
        stack += [child for child in ast.iter_child_nodes(node) if not isinstance(child, ast.stmt)]


def _runs_uvicorn(elements: list[ast.expr]) -> bool:
    """Whether these are the words of a command that runs uvicorn: `uvicorn` first, or
    after `-m` (a list of package names that holds `uvicorn` is no command)."""
    words = [e.value if isinstance(e, ast.Constant) else None for e in elements]
    return any(
        word == "uvicorn" and (index == 0 or words[index - 1] == "-m")
        for index, word in enumerate(words)
    )


def _is_uvicorn_call(func: ast.expr, imported: set[str]) -> bool:
    if isinstance(func, ast.Attribute):
        return (
            func.attr in _UVICORN_CALLS
            and isinstance(func.value, ast.Name)
            and func.value.id == "uvicorn"
        )
    return isinstance(func, ast.Name) and func.id in imported


def scan(root: Path, parts: tuple[str, ...] = (".",)) -> list[Start]:
    """Every start of uvicorn under `root`'s `parts` (files or folders)."""
    found: list[Start] = []
    for part in parts:
        base = root / part
        for path in sorted([base] if base.is_file() else base.rglob("*")):
            relative = path.relative_to(root).as_posix()
            if (
                not path.is_file()
                or SKIPPED_PARTS & set(path.relative_to(root).parts)
                or relative in SKIPPED_FILES
                or not (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES)
            ):
                continue
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".jinja":  # `uvicorn {{ package }}.main:app`: a name all the same
                text = re.sub(r"\{\{\s*\w+\s*\}\}", "package", text)
            found += starts_in_text(relative, text)
            if path.suffix == ".py":
                found += starts_in_python(relative, text)
    return found


REPOSITORY_STARTS = scan(REPO, SCANNED)


@pytest.mark.parametrize("start", REPOSITORY_STARTS, ids=[s.where for s in REPOSITORY_STARTS])
def test_every_uvicorn_start_in_the_repository_turns_proxy_headers_off(start: Start) -> None:
    assert start.off, f"{start.where} starts uvicorn without {FLAG}: {start.text}"


def test_the_scan_finds_the_known_starts() -> None:
    # If the scanner misses these, it misses new ones too.
    files = {start.where.rsplit(":", 1)[0] for start in REPOSITORY_STARTS}
    assert {
        "README.md",
        "docs/scaling.md",
        "src/stackkit/cli/run.py",
        "src/stackkit/templates/project/{{ package }}/main.py.jinja",
        "src/stackkit/templates/project/deploy/Dockerfile.jinja",
        "src/stackkit/templates/project/deploy/systemd/{{ package }}.service.jinja",
        "examples/hello/app.py",
        "examples/notes/app.py",
        "examples/blocks/app.py",
        "examples/tracker/deploy/Dockerfile",
        "benchmarks/harness.py",
        "tests/ratelimit/test_workers.py",
    } <= files


def test_a_generated_projects_starts_turn_proxy_headers_off(tmp_path: Path) -> None:
    create_project(tmp_path / "demo", "demo")
    starts = scan(tmp_path / "demo")
    assert [start for start in starts if not start.off] == []
    files = {start.where.rsplit(":", 1)[0] for start in starts}
    assert {"deploy/Dockerfile", "deploy/systemd/demo.service", "demo/main.py"} <= files


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("docs.md", "Serve it with `uvicorn demo.main:app --workers 4`.\n"),
        ("run.sh", "python -m uvicorn demo.main:app \\\n  --port 8000\n"),
        ("Dockerfile", 'CMD ["uvicorn", "demo.main:app", "--host", "0.0.0.0"]\n'),
        ("demo.service", "ExecStart=/srv/demo/.venv/bin/uvicorn demo.main:app\n"),
        ("compose.yaml", "    command: uvicorn demo.main:app --forwarded-allow-ips '*'\n"),
        ("app.py", "import uvicorn\nuvicorn.run(app, port=8000)\n"),
        ("app.py", "import uvicorn\nuvicorn.run(app, proxy_headers=True)\n"),
        ("app.py", "from uvicorn import Config\nconfig = Config(app, forwarded_allow_ips='*')\n"),
        ("bench.py", 'command = [sys.executable, "-m", "uvicorn", "x:app", "--factory"]\n'),
    ],
    ids=[
        "prose",
        "shell-continued",
        "dockerfile-exec-form",
        "systemd",
        "compose-forwarded-allow-ips",
        "uvicorn-run",
        "proxy-headers-true",
        "uvicorn-config",
        "argument-list",
    ],
)
def test_the_scan_flags_a_start_with_proxy_headers_on(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    starts = scan(tmp_path)
    assert starts, "not found"
    assert not any(start.off for start in starts)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("docs.md", "Serve it with `uvicorn demo.main:app --no-proxy-headers`.\n"),
        ("run.sh", "python -m uvicorn demo.main:app \\\n  --no-proxy-headers\n"),
        ("Dockerfile", 'CMD ["stackkit", "run", "--host", "0.0.0.0"]\n'),
        ("app.py", "import uvicorn\nuvicorn.run(app, proxy_headers=False)\n"),
        ("bench.py", 'command = [*("-m", "uvicorn", "x:app"), "--no-proxy-headers"]\n'),
    ],
    ids=["prose", "shell-continued", "stackkit-run", "uvicorn-run", "argument-list"],
)
def test_the_scan_accepts_a_start_with_proxy_headers_off(
    tmp_path: Path, name: str, text: str
) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    starts = scan(tmp_path)
    assert starts, "not found"
    assert all(start.off for start in starts)
