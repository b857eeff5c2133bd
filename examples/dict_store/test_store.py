"""The example store keeps the shipped store contract, and serves as an app's cache."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stackkit import Controller, Settings, create_app
from stackkit.testing.stores import StoreContract

spec = importlib.util.spec_from_file_location("dict_store", Path(__file__).with_name("store.py"))
assert spec is not None
assert spec.loader is not None
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
DictStore = module.DictStore


class TestDictStore(StoreContract):
    @pytest.fixture
    def store(self) -> DictStore:
        return DictStore(prefix="test:")


def test_an_app_caches_its_answers_in_the_store() -> None:
    api = Controller("/api/clock", public=True)
    calls = []

    @api.get("", cache_ttl=60)
    async def now() -> dict[str, int]:
        calls.append(1)
        return {"calls": len(calls)}

    store = DictStore()
    settings = Settings(env="test", database_url="sqlite:///:memory:")
    app = create_app(settings, controllers=[api], backends=[], stores={"cache": store})
    with TestClient(app) as client:
        answers = [client.get("/api/clock") for _ in range(3)]
    assert [a.json() for a in answers] == [{"calls": 1}] * 3
    assert [a.headers["cache-status"].split("; ")[1] for a in answers] == [
        "fwd=miss", "hit", "hit",
    ]  # fmt: skip
    assert any(key.startswith("{/api/clock}") for key in store.data)


def test_the_store_is_short() -> None:
    assert len(Path(__file__).with_name("store.py").read_text().splitlines()) < 40
