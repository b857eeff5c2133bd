"""`render_tree()`: write a template folder out as a project.

Only files ending in `.jinja` are rendered (the suffix dropped); the rest are
copied byte for byte, so that JSX, TypeScript, CSS and GitHub workflow syntax
need no escaping. Path segments may be templates too (`{{ package }}/main.py.jinja`).
Rendering is sandboxed and strict: a name the context does not define is an
error, not an empty string.

Files named `gitignore`, `gitattributes` and `dockerignore` are written with a
leading dot (a `.gitignore` in the template folder would apply to stackkit's own
repository).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib.resources.abc import Traversable
from pathlib import PurePosixPath
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["RenderedFile", "render_tree"]

_SUFFIX = ".jinja"
_RENAMED = {
    "gitignore": ".gitignore",
    "gitattributes": ".gitattributes",
    "dockerignore": ".dockerignore",
}

RenderedFile = tuple[PurePosixPath, bytes]


def render_tree(source: Traversable, context: Mapping[str, Any]) -> Iterator[RenderedFile]:
    """Each file of the template folder `source` as (relative path, content), in a
    stable order. Raises `jinja2.TemplateError` for a template that does not render."""
    environment = SandboxedEnvironment(
        undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    for relative, item in _walk(source, PurePosixPath()):
        parts = [environment.from_string(part).render(context) for part in relative.parts]
        name = parts[-1]
        content = item.read_bytes()
        if name.endswith(_SUFFIX):
            name = name.removesuffix(_SUFFIX)
            content = environment.from_string(content.decode("utf-8")).render(context).encode()
        parts[-1] = _RENAMED.get(name, name)
        yield PurePosixPath(*parts), content


def _walk(
    folder: Traversable, prefix: PurePosixPath
) -> Iterator[tuple[PurePosixPath, Traversable]]:
    for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if item.name in ("__pycache__",) or item.name.endswith(".pyc"):
            continue
        if item.is_dir():
            yield from _walk(item, prefix / item.name)
        else:
            yield prefix / item.name, item
