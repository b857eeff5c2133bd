import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

import stackkit


def test_public_names_are_pinned() -> None:
    assert stackkit.__all__ == [
        "Backend",
        "Controller",
        "ProblemError",
        "Resource",
        "Settings",
        "SettingsError",
        "ValidationProblem",
        "__version__",
        "create_app",
        "load_settings",
    ]
    for name in stackkit.__all__:
        assert hasattr(stackkit, name)


MOVED = [
    ("stackkit.http.resource", "Resource", "stackkit.resources"),
    ("stackkit.http.resource", "etag_for", "stackkit.resources.resource"),
    ("stackkit.http.resource", "OWNER_COLUMN", "stackkit.resources.resource"),
    ("stackkit.http.meta", "meta_controller", "stackkit.resources.meta"),
    ("stackkit.http.meta", "ResourceInfo", "stackkit.resources.meta"),
    ("stackkit.http.problems", "ProblemError", "stackkit.errors"),
    ("stackkit.http.problems", "ValidationProblem", "stackkit.errors"),
    ("stackkit.http.problems", "FieldError", "stackkit.errors"),
    ("stackkit.http", "ProblemError", "stackkit.errors"),
    ("stackkit.http.params", "Location", "stackkit.errors"),
    ("stackkit.db", "NotFoundError", "stackkit.errors"),
    ("stackkit.db", "ConflictError", "stackkit.errors"),
    ("stackkit.db.errors", "PreconditionFailedError", "stackkit.errors"),
    ("stackkit.cache", "ResponseCacheMiddleware", "stackkit.middleware.response_cache"),
    ("stackkit.cache", "invalidate", "stackkit.middleware.response_cache"),
    ("stackkit.cache", "SessionStore", "stackkit.auth.sessions"),
    ("stackkit.cache", "Session", "stackkit.auth.sessions"),
    ("stackkit.cache.response_cache", "ResponseCacheMiddleware", "stackkit.middleware"),
    ("stackkit.cache.response_cache", "cache_identity", "stackkit.middleware.response_cache"),
    ("stackkit.cache.response_cache", "namespace_of", "stackkit.middleware.response_cache"),
    ("stackkit.cache.response_cache", "version_key", "stackkit.middleware.response_cache"),
    ("stackkit.cache.response_cache", "before_success", "stackkit.http.asgi"),
    ("stackkit.cache.sessions", "SessionStore", "stackkit.auth"),
    ("stackkit.ratelimit.limits", "parse_limits", "stackkit.rates"),
    ("stackkit.ratelimit", "Rate", "stackkit.rates"),
    ("stackkit.ratelimit.middleware", "client_address", "stackkit.http.asgi"),
    ("stackkit.auth.middleware", "AuthenticatedUser", "stackkit.auth.authentication"),
    ("stackkit.app", "default_cache_store", "stackkit.cache.registry"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED, ids=[f"{o}.{n}" for o, n, _ in MOVED])
def test_a_moved_name_still_imports_from_where_it_was(old: str, name: str, new: str) -> None:
    """Apps written before a name moved keep working, with the very same object, and
    without a warning (warnings are errors in this suite)."""
    assert getattr(importlib.import_module(old), name) is getattr(
        importlib.import_module(new), name
    )


def test_every_module_is_an_attribute_path_from_stackkit() -> None:
    """`import stackkit` then `stackkit.db.database`, `stackkit.http.resource`, ...: as
    when importing stackkit loaded every layer; now each loads on first use."""
    names = [
        module.name
        for module in pkgutil.walk_packages(stackkit.__path__, "stackkit.")
        if module.name != "stackkit.__main__"  # running it runs the CLI
    ]
    code = (
        "import functools, json, sys, stackkit\n"
        "missing = []\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        functools.reduce(getattr, name.split('.')[1:], stackkit)\n"
        "    except AttributeError:\n"
        "        missing.append(name)\n"
        "print(json.dumps(missing))\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code, json.dumps(names)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert len(names) > 90
    assert json.loads(done.stdout) == []
