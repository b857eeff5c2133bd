"""Whose cached answer a request may get: the key holds the path, the query with its
parameters sorted, the caller's roles, and who asks (the user and their session)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from starlette.authentication import AuthCredentials, SimpleUser
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from stackkit import Controller, Settings, create_app
from stackkit.cache import MemoryStore, Store


class Caller:
    """A signed-in user, as the auth middleware leaves it in the scope."""

    is_authenticated = True

    def __init__(self, identity: str, session_id: str) -> None:
        self.identity = self.display_name = identity
        self.session_id = session_id


class CallerFromHeaders:
    """Signs in `x-user` with the session `x-session` and the roles `x-roles`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode(): v.decode() for k, v in scope.get("headers", [])}
        if "x-user" in headers:
            scope["user"] = Caller(headers["x-user"], headers.get("x-session", "s1"))
            roles = [r for r in headers.get("x-roles", "").split(",") if r]
            scope["auth"] = AuthCredentials(roles)
        await self.app(scope, receive, send)


ADA = {"x-user": "7", "x-session": "laptop", "x-roles": "member"}


@pytest.mark.parametrize(
    ("first", "second", "shared"),
    [
        (("/api/me", ADA), ("/api/me", ADA), True),
        (("/api/me", ADA), ("/api/me", {**ADA, "x-user": "8"}), False),
        (("/api/me", ADA), ("/api/me", {**ADA, "x-session": "phone"}), False),
        (("/api/me", ADA), ("/api/me", {**ADA, "x-roles": "member,admin"}), False),
        (("/api/me", ADA), ("/api/me", {}), False),
        (("/api/me", {}), ("/api/me", ADA), False),
        (("/api/me", {}), ("/api/me", {}), True),
        (("/api/me?a=1&b=2", ADA), ("/api/me?b=2&a=1", ADA), True),
        (("/api/me?a=1", ADA), ("/api/me?a=2", ADA), False),
        (("/api/me", ADA), ("/api/me/more", ADA), False),
    ],
    ids=["same-caller", "other-user", "second-device", "other-roles", "then-anonymous",
         "anonymous-then-user", "anonymous-twice", "query-order", "other-query", "other-path"],
)  # fmt: skip
async def test_who_shares_a_cached_answer(
    make_settings: Callable[..., Settings],
    first: tuple[str, dict[str, str]],
    second: tuple[str, dict[str, str]],
    shared: bool,
) -> None:
    calls: Counter[str] = Counter()
    api = Controller("/api", public=True)

    async def me(request: Request) -> dict[str, Any]:
        calls["me"] += 1
        user = request.scope.get("user")
        return {"user": getattr(user, "identity", None), "call": calls["me"]}

    api.get("/me")(me)
    api.get("/me/more")(me)
    app = create_app(
        make_settings(),
        controllers=[api],
        backends=[],
        cache_store=MemoryStore(),
        middleware=[Middleware(CallerFromHeaders)],
        configure_logs=False,
    )
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        before = await client.get(first[0], headers=first[1])
        after = await client.get(second[0], headers=second[1])
    assert before.headers["cache-status"] == "stackkit; fwd=miss; stored"
    if shared:
        assert after.headers["cache-status"] == "stackkit; hit"
        assert after.json() == before.json()
    else:
        assert after.headers["cache-status"] == "stackkit; fwd=miss; stored"
        assert after.json()["call"] == 2


# The roles alone tell two requests apart


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
