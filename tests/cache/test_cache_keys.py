"""What the response cache keys a caller's entries on: beside the user and the session,
the roles the caller holds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx2
import pytest
from starlette.authentication import AuthCredentials, SimpleUser
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from stackkit import Controller, Settings, create_app
from stackkit.cache import MemoryStore, RedisStore, Store
from stackkit.testing import unique_key_prefix


class SameUserAndSession:
    """Signs in one user, in one session, with the roles `x-test-roles` names: only
    the roles tell two requests apart."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        roles = dict(scope.get("headers", [])).get(b"x-test-roles", b"").decode()
        user = SimpleUser("ada")
        user.session_id = "one-session"  # type: ignore[attr-defined]
        scope["user"] = user
        scope["auth"] = AuthCredentials([r for r in roles.split(",") if r])
        await self.app(scope, receive, send)


@pytest.fixture(params=["memory", "redis"])
async def cache_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    store = RedisStore(request.getfixturevalue("redis_url"), prefix=unique_key_prefix())
    await store.open()
    try:
        yield store
    finally:
        keys = [k async for k in store.client.scan_iter(match=f"{store.prefix}*")]
        if keys:
            await store.client.delete(*keys)
        await store.close()


async def test_a_callers_entries_are_keyed_by_their_roles(
    cache_store: Store, make_settings: Callable[..., Settings]
) -> None:
    api = Controller("/api", public=True)

    @api.get("/dashboard")
    async def dashboard(request: Request) -> dict[str, list[str]]:
        return {"roles": sorted(request.auth.scopes)}

    app = create_app(
        make_settings(),
        controllers=[api],
        backends=[],
        cache_store=cache_store,
        middleware=[Middleware(SameUserAndSession)],
    )
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:

        async def get(roles: str) -> httpx2.Response:
            return await client.get("/api/dashboard", headers={"x-test-roles": roles})

        admin = await get("admin")
        assert "stored" in admin.headers["cache-status"]
        assert (await get("admin")).headers["cache-status"] == "stackkit; hit"
        member = await get("")
        assert member.json() == {"roles": []}
        assert "hit" not in member.headers["cache-status"]
        both = await get("editor,admin")
        assert both.json() == {"roles": ["admin", "editor"]}
        assert "hit" not in both.headers["cache-status"]
        assert (await get("admin,editor")).headers["cache-status"] == "stackkit; hit"
