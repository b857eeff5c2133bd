"""Every Redis store the tests make waits `STORE_TIMEOUT` for the server, unless the test
says why not.

The stores' default, half a second to connect and for each reply, is right for an app
and too short for a test on a loaded machine: a burst of requests opens dozens of
connections at once, one of them times out, the cache is bypassed as it should be, and
a test that counts handler calls fails for a reason that is not its own. A test about
the default itself, or about a server that is not there, writes `# default timeout:`
and its reason on the line of the call or the line above. The apps the tests build
read the same wait from the environment (`STACKKIT_REDIS_TIMEOUT`, set by the conftest).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from stackkit import Settings
from stackkit.cache import RedisStore
from stackkit.cache.registry import default_cache_store
from stackkit.testing.settings import is_setting
from tests.conftest import STORE_TIMEOUT

ROOT = Path(__file__).resolve().parents[1]
STORES = {"RedisStore", "RedisClusterStore"}
MARK = "# default timeout:"


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def stores_without_a_timeout(source: str) -> list[int]:
    """The lines of store constructions that neither pass `timeout=` nor say why."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or _called_name(node) not in STORES:
            continue
        if any(keyword.arg in ("timeout", None) for keyword in node.keywords):
            continue  # `timeout=`, or `**options` that carry it
        near = lines[max(node.lineno - 2, 0) : node.lineno]
        if not any(MARK in line for line in near):
            found.append(node.lineno)
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("RedisStore(url)", [1]),
        ("stackkit.cache.RedisClusterStore(url, prefix='p')", [1]),
        ("RedisStore(url, timeout=STORE_TIMEOUT)", []),
        ("RedisStore(url, **options)", []),
        ("RedisStore(url)  # default timeout: measured", []),
        ("# default timeout: nothing listens\nRedisStore(url)", []),
        ("MemoryStore()", []),
    ],
)
def test_the_check_finds_stores_on_the_default_timeout(source: str, expected: list[int]) -> None:
    assert stores_without_a_timeout(source) == expected


def test_every_test_store_waits_for_a_loaded_machine() -> None:
    files = [*ROOT.joinpath("tests").rglob("*.py"), *ROOT.joinpath("faults").rglob("*.py")]
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted(files)
        if path.name != Path(__file__).name
        for line in stores_without_a_timeout(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], f"pass timeout=STORE_TIMEOUT, or say {MARK!r} why not"


def test_no_setting_comes_from_the_shell() -> None:
    """The conftest took the shell's settings variables out (a developer's `REDIS_URL`)."""
    assert [name for name in os.environ if is_setting(name)] == ["STACKKIT_REDIS_TIMEOUT"]


def test_every_app_a_test_builds_on_redis_waits_for_a_loaded_machine() -> None:
    settings = Settings(env="test", redis_url="redis://127.0.0.1:1/0")
    store = default_cache_store(settings)
    assert isinstance(store, RedisStore)
    assert store.timeout == settings.redis_timeout == STORE_TIMEOUT
