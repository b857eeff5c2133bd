"""The response cache without its Redis: requests served uncached, and a warning at most
once a minute however many requests go by."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest

from stackkit import Controller, Settings, create_app
from stackkit.cache import RedisStore
from stackkit.testing import find_free_port, unique_key_prefix
from tests.helpers import assert_warned_once_a_minute


async def test_an_outage_is_warned_about_at_most_once_a_minute(
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = Controller("/api", public=True)

    @api.get("/items", rate_limit=False)
    async def items() -> list[str]:
        return ["first"]

    @api.post("/items", status_code=201, rate_limit=False)
    async def add() -> str:
        return "added"

    # default timeout: nothing listens, so every connection is refused at once
    away = RedisStore(f"redis://127.0.0.1:{find_free_port()}/0", prefix=unique_key_prefix())
    await away.open()  # nothing listens there: every command is refused
    app = create_app(
        make_settings(), controllers=[api], backends=[], cache_store=away, configure_logs=False
    )
    transport = httpx2.ASGITransport(app=app)
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:

            async def requests() -> None:
                for _ in range(5):
                    answer = await client.get("/api/items")
                    assert answer.status_code == 200
                    assert answer.headers["cache-status"] == "stackkit; fwd=bypass"
                assert (await client.post("/api/items")).status_code == 201

            await assert_warned_once_a_minute(
                monkeypatch, caplog, "Response cache bypassed", requests
            )
    finally:
        await away.close()
