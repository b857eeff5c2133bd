"""Single flight: concurrent misses on one key run the handler once, across workers when
the lock is in Redis; the others wait for its entry, up to 5 s."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx2

from stackkit import Controller, Settings, create_app
from stackkit.cache import MemoryStore, RedisStore, Store
from stackkit.testing import unique_key_prefix
from tests.conftest import STORE_TIMEOUT
from tests.helpers import opened


def asgi_client(app: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://test")


def app_on(store: Store, settings: Settings, controller: Controller) -> Any:
    return create_app(
        settings, controllers=[controller], backends=[], cache_store=store, configure_logs=False
    )


async def test_concurrent_misses_on_two_workers_run_the_handler_once(
    redis_url: str, make_settings: Callable[..., Settings]
) -> None:
    calls: Counter[str] = Counter()
    api = Controller("/api", public=True)

    @api.get("/report", rate_limit=False)
    async def report() -> dict[str, int]:
        calls["report"] += 1
        await asyncio.sleep(0.3)  # the work that the other misses must not repeat
        return {"answer": 42}

    prefix = unique_key_prefix()
    stores = [
        RedisStore(redis_url, prefix=prefix, timeout=STORE_TIMEOUT) for _ in range(2)
    ]  # one per worker
    async with (
        opened(*stores),
        asgi_client(app_on(stores[0], make_settings(), api)) as first,
        asgi_client(app_on(stores[1], make_settings(), api)) as second,
    ):
        answers = await asyncio.gather(
            *(client.get("/api/report") for _ in range(25) for client in (first, second))
        )
    assert all(a.status_code == 200 and a.json() == {"answer": 42} for a in answers)
    assert calls["report"] == 1
    statuses = Counter(a.headers["cache-status"] for a in answers)
    assert statuses == {"stackkit; fwd=miss; stored": 1, "stackkit; hit": 49}


async def test_a_miss_waits_5_seconds_for_the_first_then_runs_the_handler_itself(
    make_settings: Callable[..., Settings],
) -> None:
    calls: Counter[str] = Counter()
    release = asyncio.Event()
    api = Controller("/api", public=True)

    @api.get("/stuck", rate_limit=False)
    async def stuck() -> dict[str, int]:
        calls["stuck"] += 1
        call = calls["stuck"]
        if call == 1:
            await release.wait()  # the first caller's handler hangs
        return {"call": call}

    async with asgi_client(app_on(MemoryStore(), make_settings(), api)) as client:
        first = asyncio.create_task(client.get("/api/stuck"))
        deadline = time.monotonic() + 5
        while calls["stuck"] == 0:
            assert time.monotonic() < deadline, "the first request never reached its handler"
            await asyncio.sleep(0.01)
        started = time.monotonic()
        second = await client.get("/api/stuck")
        waited = time.monotonic() - started
        release.set()
        await first
    assert 4.9 <= waited < 7, waited
    assert second.json() == {"call": 2}
    assert second.headers["cache-status"] == "stackkit; fwd=miss"
