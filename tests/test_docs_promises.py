"""Every promise the contract pages make names the test that proves it.

The pages are docs/security.md, docs/reliability.md, docs/caching.md and
docs/rate-limiting.md. A promise carries its proof in an HTML comment, which
the site does not show:

    - **CSRF.** A logout with the cookie needs an allowed Origin.
      <!-- proof: tests/auth/test_api.py::test_logout_with_the_cookie_needs_an_allowed_origin -->

One comment may name several tests, separated by commas. A test is
`path::function` (the path from the repository's root); the function must be
defined in that file, at its top level or in a class. A check that is not a
pytest test (the bundle budget, checked by the `frontend` env) is named the
same way, as `scripts/frontend_check.py::check_bundle_budget`.

What counts as a promise, in every section but those listed in `NOT_PROMISES`:
each list item, each table row, and each paragraph that commits to something
(`never`, `always`, `only`, `at most`, `exactly`, `cannot`, `refused`...).
Paragraphs that open with **Threat.** or **What remains.** tell a story or a
limit, not a promise.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("security.md", "reliability.md", "caching.md", "rate-limiting.md")

NOT_PROMISES: dict[str, frozenset[str]] = {
    # Sections that describe, instruct or admit limits: no promise to prove.
    "security.md": frozenset({"Assets", "Actors", "What stackkit does not defend against"}),
    "reliability.md": frozenset({"Running them", "Mutation testing (`tox -e mutation`)"}),
    "caching.md": frozenset({"Configuring Redis eviction"}),
    "rate-limiting.md": frozenset(),
}

_PROOF = re.compile(r"<!--\s*proof:\s*(.*?)\s*-->", re.DOTALL)
_COMMITS = re.compile(
    r"\b(never|always|only|at most|exactly|cannot|refused|refuses|guarantee[sd]?)\b", re.I
)
_NOT_A_PROMISE_LEAD = re.compile(r"^\*\*(Threat|What remains)\.\*\*")
_LIST_ITEM = re.compile(r"^(?:[-*]|\d+\.) ")
_TABLE_SEPARATOR = re.compile(r"^\|[\s:|-]+\|$")


@dataclass(frozen=True)
class Unit:
    """A list item, a table row or a paragraph of a page, with where it starts."""

    page: str
    line: int
    section: str
    kind: str  # "item", "row" or "paragraph"
    text: str

    @property
    def proofs(self) -> list[str]:
        return [
            name.strip()
            for comment in _PROOF.findall(self.text)
            for name in comment.split(",")
            if name.strip()
        ]

    @property
    def is_promise(self) -> bool:
        if self.section in NOT_PROMISES[self.page]:
            return False
        if self.kind != "paragraph":
            return True
        text = _PROOF.sub("", self.text).strip()
        return not _NOT_A_PROMISE_LEAD.match(text) and bool(_COMMITS.search(text))

    def __str__(self) -> str:
        first = self.text.strip().splitlines()[0]
        return f"docs/{self.page}:{self.line} ({self.section}): {first[:90]}"


def units(page: str) -> list[Unit]:
    """The list items, table rows and paragraphs of `page`, code blocks left out.

    A list item runs until a blank line that the next line does not indent under
    it; a section inherits the exemption of the section it is part of.
    """
    lines = (ROOT / "docs" / page).read_text(encoding="utf-8").splitlines()
    found: list[Unit] = []
    headings: list[tuple[int, str]] = []
    current: list[str] = []
    start, kind = 0, ""
    in_code = False

    def section() -> str:
        exempt = [title for _, title in headings if title in NOT_PROMISES[page]]
        return exempt[0] if exempt else (headings[-1][1] if headings else "")

    def close() -> None:
        nonlocal current
        if current:
            found.append(Unit(page, start, section(), kind, "\n".join(current)))
        current = []

    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            close()
            in_code = not in_code
            continue
        if in_code:
            continue
        if line.startswith("#"):
            close()
            level = len(line) - len(line.lstrip("#"))
            headings = [(lvl, title) for lvl, title in headings if lvl < level]
            headings.append((level, line.lstrip("#").strip()))
            continue
        if not stripped:
            if kind != "item":
                close()
            continue
        if stripped.startswith("|"):
            close()
            if not _TABLE_SEPARATOR.match(stripped):
                start, kind, current = number, "row", [stripped]
                close()
            elif found and found[-1].kind == "row" and found[-1].line == number - 1:
                found.pop()  # the row above the separator names the columns
            continue
        if _LIST_ITEM.match(line):
            close()
            start, kind, current = number, "item", [line]
            continue
        if kind == "item" and current:
            if line.startswith(" ") or lines[number - 2].strip():
                current.append(line)  # indented under the item, or a lazy continuation
                continue
            close()
        if not current:
            start, kind = number, "paragraph"
        current.append(line)
    close()
    return found


@cache
def _functions(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}::{child.name}"
                for child in node.body
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return frozenset(names)


def proof_problem(proof: str) -> str | None:
    """Why `proof` names no test, or None when it does."""
    path, separator, name = proof.partition("::")
    if not separator or not name:
        return f"{proof!r} is not path::function"
    file = ROOT / path
    if not file.is_file() or file.suffix != ".py":
        return f"{path} is not a Python file of the repository"
    if name.split("[")[0] not in _functions(file):
        return f"{path} defines no {name}"
    return None


@pytest.mark.parametrize("page", PAGES)
def test_every_promise_names_its_proof(page: str) -> None:
    missing = [str(unit) for unit in units(page) if unit.is_promise and not unit.proofs]
    assert not missing, (
        f"{len(missing)} promises of docs/{page} name no test "
        "(add <!-- proof: path::test -->):\n" + "\n".join(missing)
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_named_proof_exists(page: str) -> None:
    problems = [
        f"{unit}: {problem}"
        for unit in units(page)
        for proof in unit.proofs
        if (problem := proof_problem(proof)) is not None
    ]
    assert not problems, "\n".join(problems)


# The check itself, on pages of its own.


def test_the_units_of_a_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "security.md").write_text(
        "# Page\n\nIntro that explains.\n\nIt never fails.\n\n"
        "- one item\n  continued <!-- proof: tests/x.py::test_a, tests/x.py::test_b -->\n"
        "- two\n\n  nested paragraph of two\n\nNext paragraph only.\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n```\n- not an item\n```\n\n"
        "## Assets\n\n- exempt item\n\n**Threat.** Someone never stops.\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    found = units("security.md")
    assert [(u.kind, u.line, u.is_promise) for u in found] == [
        ("paragraph", 3, False),
        ("paragraph", 5, True),
        ("item", 7, True),
        ("item", 9, True),
        ("paragraph", 13, True),
        ("row", 17, True),
        ("item", 25, False),
        ("paragraph", 27, False),
    ]
    assert found[2].proofs == ["tests/x.py::test_a", "tests/x.py::test_b"]
    assert "nested paragraph" in found[3].text


@pytest.mark.parametrize(
    ("proof", "problem"),
    [
        ("tests/test_docs_promises.py::test_the_units_of_a_page", None),
        ("tests/test_docs_promises.py::test_the_units_of_a_page[x]", None),
        ("tests/test_docs_promises.py::test_that_is_not_there", "defines no"),
        ("tests/not_a_file.py::test_a", "not a Python file"),
        ("tests/test_docs_promises.py", "not path::function"),
        ("docs/security.md::test_a", "not a Python file"),
    ],
)
def test_a_proof_must_name_a_function_that_exists(proof: str, problem: str | None) -> None:
    found = proof_problem(proof)
    assert found is None if problem is None else problem in (found or "")
