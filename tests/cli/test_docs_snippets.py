"""The code blocks of docs/tutorial.md, README.md's quick start and a generated
project's README run as written, in order, in a fresh folder and environment.

Shell blocks run in bash with `set -euo pipefail`, from the folder the previous
block ended in, with the variables it set: one shell session, as a reader's.
Python blocks are pasted into the file their marker names. A comment right
before a block says how to run it when running it as is cannot work:

    <!-- snippet: skip REASON -->         not run (installs from an index, needs Docker...)
    <!-- snippet: server -->              its last command serves until stopped: the lines
                                          before it (and the commands `&&` chains before
                                          it) run, then the server starts in the
                                          background on a free port (for `localhost:8000`)
    <!-- snippet: restart -->             restart the server, then run the block
    <!-- snippet: paste FILE -->          a Python block: its imports join FILE's, and
                                          its classes and functions replace FILE's

The environment is a new virtual environment that sees this test run's packages
(stackkit among them, from the checkout) and installs nothing else from an
index, but what pip needs to build a package. After the blocks, no request
was answered with a 5xx.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import site
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

from stackkit.testing import find_free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
_MARKER = re.compile(r"^<!-- snippet: (\w+)(?: (.*?))? -->$")
_FENCE = re.compile(r"^```(\w*)$")


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    kind: str
    """`run`, or the marker's kind: `skip`, `server`, `restart`, `paste`."""
    argument: str


def code_blocks(markdown: str) -> list[Block]:
    """The fenced blocks of `markdown`, in order, each with the marker before it."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        end = lines.index("```", index + 1)
        previous = next((line for line in reversed(lines[:index]) if line.strip()), "")
        marker = _MARKER.match(previous.strip())
        kind, argument = (marker.group(1), marker.group(2) or "") if marker else ("run", "")
        text = "\n".join(lines[index + 1 : end]) + "\n"
        blocks.append(Block(fence.group(1), text, kind, argument))
        index = end + 1
    return blocks


def section(markdown: str, heading: str) -> str:
    """The text under `heading` up to the next heading of its level."""
    start = markdown.index(f"\n{heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else len(markdown)]


def test_snippet_markers_are_understood() -> None:
    text = "<!-- snippet: skip needs Docker -->\n```sh\ndocker ps\n```\n\n```python\nx = 1\n```\n"
    assert code_blocks(text) == [
        Block("sh", "docker ps\n", "skip", "needs Docker"),
        Block("python", "x = 1\n", "run", ""),
    ]
    for path in (ROOT / "docs" / "tutorial.md", ROOT / "README.md"):
        for block in code_blocks(path.read_text(encoding="utf-8")):
            assert block.kind in ("run", "skip", "server", "restart", "paste"), block


class Session:
    """A reader's terminal: an activated environment, one shell, one server at most."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.cwd = home
        self.venv = home / ".venv"
        self.port = find_free_port()
        self.state = home / ".session-state"
        self.state.write_text("", encoding="utf-8")
        self.server: subprocess.Popen[bytes] | None = None
        self.server_block = ""
        self.server_cwd = home
        self.logs: list[Path] = []
        path = os.pathsep.join(
            [str(self.venv / "bin"), str(Path(sys.executable).parent), os.environ["PATH"]]
        )
        self.environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("STACKKIT_", "DATABASE_", "REDIS_", "SECRET_KEY", "PYTEST_"))
        }
        self.environment.update(PATH=path, VIRTUAL_ENV=str(self.venv), PIP_NO_INPUT="1")

    def make_environment(self) -> None:
        """`.venv`, seeing this test run's packages: nothing to download but build tools."""
        subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True, timeout=120)
        (packages,) = self.venv.glob("lib/python*/site-packages")
        (packages / "_this_test_run.pth").write_text(
            "\n".join(site.getsitepackages()) + "\n", encoding="utf-8"
        )

    def _script(self, text: str) -> str:
        text = text.replace("localhost:8000", f"localhost:{self.port}")
        return (
            f"set -euo pipefail\nset -a\ncd {_quote(self.cwd)}\n. {_quote(self.state)}\n"
            f"{text}\npwd > {_quote(self.state)}.cwd\nexport -p > {_quote(self.state)}\n"
        )

    def shell(self, text: str) -> str:
        result = subprocess.run(
            ["bash", "-c", self._script(text)],
            env=self.environment, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{text}\n{result.stdout}\n{result.stderr}"
        self.cwd = Path(Path(f"{self.state}.cwd").read_text(encoding="utf-8").strip())
        return result.stdout

    def serve(self, block: str) -> None:
        """Run the block's lines but the last, then its last line as a server (the last
        command of it, when it chains several with `&&`, as the README's one line does)."""
        *before, last = block.strip().splitlines()
        chained, _, last = last.rpartition(" && ")
        if chained:
            before.append(chained)
        if before:
            self.shell("\n".join(before))
        self.server_block, self.server_cwd = last, self.cwd
        self._start()

    def restart(self) -> None:
        assert self.server is not None, "a restart needs a server started before"
        self.stop()
        self._start()

    def _start(self) -> None:
        log = self.home / f"server-{len(self.logs)}.log"
        self.logs.append(log)
        command = f"cd {_quote(self.server_cwd)}\nexec {self.server_block} --port {self.port}"
        with log.open("wb") as output:
            self.server = subprocess.Popen(
                ["bash", "-c", f"set -a\n. {_quote(self.state)}\n{command}"],
                env=self.environment, stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        server = self.server

        def answers() -> bool:
            if server.poll() is not None:
                raise AssertionError(f"{self.server_block} stopped: {log.read_text()}")
            try:
                url = f"http://127.0.0.1:{self.port}/healthz"
                return httpx.get(url, timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(answers, timeout=60, description=self.server_block)

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(timeout=15)

    def paste(self, relative: str, source: str) -> None:
        """Put a Python block into a module: imports to its imports, definitions in
        place of those of the same name (as a reader would edit the file)."""
        path = self.cwd / relative
        module = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        definitions = [n for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef)]
        lines = module.splitlines()
        for node in ast.parse(module).body:
            named = isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            if named and node.name in {d.name for d in definitions}:
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
                lines[first : node.end_lineno] = [""] * ((node.end_lineno or 0) - first)
        source_lines = source.splitlines()
        body = "\n".join(source_lines[definitions[0].lineno - 1 :]) if definitions else ""
        import_lines = [ast.get_source_segment(source, node) or "" for node in imports]
        future = next(i for i, line in enumerate(lines) if line.startswith("from __future__"))
        lines[future + 1 : future + 1] = ["", *import_lines]
        path.write_text("\n".join(lines).rstrip() + "\n\n\n" + body + "\n", encoding="utf-8")

    def run(self, blocks: list[Block]) -> None:
        for block in blocks:
            if block.kind == "skip":
                continue
            if block.kind == "paste":
                assert block.language == "python", block
                self.paste(block.argument, block.text)
                continue
            assert block.language == "sh", block
            if block.kind == "server":
                self.serve(block.text)
                continue
            if block.kind == "restart":
                self.restart()
            self.shell(block.text)

    def answered(self) -> str:
        """What the servers logged, for the test to read."""
        return "\n".join(log.read_text(encoding="utf-8", errors="replace") for log in self.logs)


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "'\\''") + "'"


ACCESS_LINE = re.compile(
    r"stackkit\.access \[[^\]]*\] (?P<method>\S+) (?P<path>\S+) (?P<status>\d{3}) \d+ B [\d.]+ ms$"
)


def _answers(logged: str) -> list[tuple[str, str, int]]:
    """Method, path and status of each access line the servers logged."""
    found = [ACCESS_LINE.search(line) for line in logged.splitlines()]
    return [(m["method"], m["path"], int(m["status"])) for m in found if m is not None]


def _no_server_errors(session: Session) -> list[tuple[str, str, int]]:
    """The servers' answers, once checked that they logged some and no 5xx."""
    logged = session.answered()
    answers = _answers(logged)
    assert answers, logged  # the format of an access line is what ACCESS_LINE reads
    assert not [answer for answer in answers if answer[2] >= 500], logged
    assert "Traceback" not in logged, logged
    return answers


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    made = Session(tmp_path)
    yield made
    made.stop()


def test_the_tutorial_runs_as_written(session: Session) -> None:
    session.make_environment()
    session.run(code_blocks((ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")))
    session.stop()
    answers = _no_server_errors(session)
    assert ("POST", "/api/tasks", 201) in answers
    # The rule pasted into TaskService: a 409 naming the field, not a 500.
    assert ("POST", "/api/tasks", 409) in answers


def test_the_quick_start_and_the_generated_readme_run_as_written(session: Session) -> None:
    checkout = session.home / "stackkit"
    shutil.copytree(ROOT / "src", checkout / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, checkout / name)
    session.venv = checkout / ".venv"  # where the quick start makes it
    session.environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    session.environment.pop("VIRTUAL_ENV")  # the quick start activates nothing
    session.make_environment()
    session.cwd = checkout
    quick_start = section((ROOT / "README.md").read_text(encoding="utf-8"), "## Quick start")
    session.run(code_blocks(quick_start))
    project = session.cwd
    assert project == checkout / "demo"
    # The generated README, in the same environment, activated as it says.
    session.stop()
    session.environment["PATH"] = f"{session.venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
    session.environment["VIRTUAL_ENV"] = str(session.venv)
    readme = section((project / "README.md").read_text(encoding="utf-8"), "## Run it")
    session.run(code_blocks(readme))
    session.stop()
    _no_server_errors(session)
