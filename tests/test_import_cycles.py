"""stackkit's layers import downwards only, and no module imports one that imports it
back, directly or through others.

Both are checked wherever an import is written (at the top, in a function, under
TYPE_CHECKING): an import hidden in a function to dodge a cycle still ties the two
modules together. The layers, bottom up (docs/architecture.md draws them):

- core: `errors`, `rates`, `logs`, `backends`, `settings`, `lazy`: what every layer may use;
- the building blocks: `cache` (stores), `db` and `http` on the core alone; `jobs` on
  the core and `http` (its admin routes); `ratelimit` on them; `auth` on all of these
  (its reset emails are a job); `middleware` on all of these (its hit path answers a
  cached GET with authentication's and the limiter's parts);
- `resources` (CRUD routes for a model, on `db` and `http`), `health`;
- `app` (`create_app` wires everything), then `cli` and the package's own `__init__`.

A subprocess also imports the lower layers on their own and lists what they loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "stackkit"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The stackkit modules `path` imports (`from stackkit.x import y` counts `stackkit.x.y`
    when `y` is a module, else `stackkit.x`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in modules:
                    found.add(submodule)
                elif node.module in modules:
                    found.add(node.module)
    return found


def _graph() -> dict[str, set[str]]:
    paths = [p for p in PACKAGE.rglob("*.py") if "templates" not in p.relative_to(PACKAGE).parts]
    modules = {_module_name(path): path for path in paths}
    return {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph`, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (cycle := visit(imported)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


CORE = {"errors", "rates", "logs", "backends", "settings", "__about__", "lazy"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "rates": set(),
    "logs": set(),
    "backends": set(),
    "__about__": set(),
    "lazy": set(),
    "settings": {"rates"},
    "cache": CORE,
    "db": CORE,
    "http": CORE,
    "jobs": CORE | {"http"},  # its admin routes
    "ratelimit": CORE | {"cache", "http"},
    "auth": CORE | {"cache", "db", "http", "jobs", "ratelimit"},
    "middleware": CORE | {"cache", "db", "http", "jobs", "ratelimit", "auth"},
    "files": CORE | {"db", "jobs"},  # its deletions are jobs
    "resources": CORE | {"db", "http", "files"},
    "health": CORE | {"http"},
    "testing": CORE | {"cache"},  # the store contract suite
    "app": CORE
    | {"cache", "db", "http", "jobs", "ratelimit", "middleware", "auth", "resources", "health"}
    | {"files"},
}
"""Which layers each may import besides itself; core modules import only the core, and
`cli`, `__main__` and `stackkit` itself (the top) may import anything."""
TOP = {"cli", "__main__", ""}
SHIMS = {
    "stackkit.http.resource": {"resources"},
    "stackkit.http.meta": {"resources"},
    "stackkit.cache": {"auth", "middleware"},  # lazily, on first use of a moved name
    "stackkit.cache.response_cache": {"middleware"},
    "stackkit.cache.sessions": {"auth"},
}
"""Modules that only re-export what moved up a layer, so that apps written before the
move keep working (no warning: generated projects treat warnings as errors)."""


def _layer(module: str) -> str:
    """`stackkit.db.query` -> `db`; `stackkit` itself -> ``."""
    return module.split(".")[1] if "." in module else ""


def _upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imported in sorted(graph.items()):
        layer = _layer(module)
        if layer in TOP:
            continue
        allowed = ALLOWED[layer] | {layer} | SHIMS.get(module, set())
        found += [
            f"{module} -> {other}" for other in sorted(imported) if _layer(other) not in allowed
        ]
    return found


def test_each_layer_imports_only_the_layers_below_it() -> None:
    graph = _graph()
    layers = {_layer(module) for module in graph}
    assert layers - TOP == set(ALLOWED), "a new layer: place it in ALLOWED"
    assert _upward_imports(graph) == []


def test_the_allowed_layers_have_no_cycle() -> None:
    assert _cycle({layer: set(below) - {layer} for layer, below in ALLOWED.items()}) is None


def test_an_upward_import_is_found() -> None:
    graph = {"stackkit.db.query": {"stackkit.http.problems", "stackkit.errors"}}
    assert _upward_imports(graph) == ["stackkit.db.query -> stackkit.http.problems"]


LIBRARIES = ["starlette", "sqlalchemy", "pydantic", "redis", "jwt"]


@pytest.mark.parametrize(
    ("module", "loads_none_of"),
    [
        ("stackkit.errors", ["stackkit.app", "stackkit.http", "stackkit.settings", *LIBRARIES]),
        ("stackkit.db", ["stackkit.http", "stackkit.resources", "stackkit.auth", "starlette"]),
        ("stackkit.cache", ["stackkit.http", "stackkit.db", "stackkit.auth", "sqlalchemy"]),
        ("stackkit.http", ["stackkit.db", "stackkit.resources", "sqlalchemy", "redis"]),
        # Every environment with stackkit installed loads the pytest plugin.
        ("stackkit.testing.plugin", ["stackkit.app", "stackkit.db", *LIBRARIES]),
    ],
)
def test_a_lower_layer_imports_on_its_own(module: str, loads_none_of: list[str]) -> None:
    """What a layer loads when imported alone, `stackkit/__init__` included: the layers
    above it never, nor the libraries only they need."""
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    unwanted = [
        name
        for name in loaded
        if any(name == other or name.startswith(f"{other}.") for other in loads_none_of)
    ]
    assert unwanted == []


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = _graph()
    assert "stackkit.cli.check" in graph  # the scan found the package
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
