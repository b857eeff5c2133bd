"""`AuthenticationMiddleware` on its own: who a request's token makes the caller, and
what it says when it makes nobody."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from stackkit.auth import AccessTokens, TokenKeys
from stackkit.auth.middleware import AuthenticatedUser, AuthenticationMiddleware
from stackkit.auth.sessions import SessionStore
from stackkit.cache import MemoryStore, StoreUnavailable
from stackkit.http.routing import AUTH_ERROR_SCOPE_KEY
from tests.helpers import Clock

KEYS = TokenKeys.from_secret("middleware-tests-secret-0123456789abc")


class World:
    """An app that shows who the middleware made the caller, with its tokens and sessions."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.tokens = AccessTokens(KEYS, clock=self.clock, leeway=0)
        self.sessions = SessionStore(MemoryStore())

        async def who(request: Request) -> JSONResponse:
            user = request.scope["user"]
            answer: dict[str, Any] = {
                "scopes": sorted(request.scope["auth"].scopes),
                "error": request.scope.get(AUTH_ERROR_SCOPE_KEY),
            }
            if isinstance(user, AuthenticatedUser):
                answer |= {"id": user.id, "roles": sorted(user.roles),
                           "session": user.session_id, "token": user.claims.token_id}  # fmt: skip
            return JSONResponse(answer)

        middleware = Middleware(
            AuthenticationMiddleware, tokens=self.tokens, sessions=self.sessions
        )
        self.client = TestClient(Starlette(routes=[Route("/who", who)], middleware=[middleware]))

    def token(self, roles: tuple[str, ...] = ("editor",)) -> tuple[str, str]:
        """A live session of user 7 and an access token of it."""
        assert self.client.portal is not None
        session = self.client.portal.call(self.sessions.create, "7")
        return self.tokens.issue("7", session.id, roles).token, session.id

    def who(self, authorization: str) -> Any:
        return self.client.get("/who", headers={"Authorization": authorization}).json()


@pytest.fixture
def world() -> Any:
    world = World()
    with world.client:
        yield world


def test_a_valid_token_makes_its_user_the_caller(world: World) -> None:
    token, session = world.token(roles=("editor", "admin"))
    claims = world.tokens.verify(token)
    assert world.who(f"Bearer {token}") == {
        "id": "7", "roles": ["admin", "editor"], "session": session, "token": claims.token_id,
        "scopes": ["admin", "authenticated", "editor"], "error": None,
    }  # fmt: skip
    assert world.who(f"bearer   {token}  ")["id"] == "7"  # the scheme has no case


FORMAT = "The Authorization header must be 'Bearer <access token>'."


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ("Bearer", FORMAT),
        ("Bearer    ", FORMAT),
        ("Basic YWRhOnNlY3JldA==", FORMAT),
        ("Token abc", FORMAT),
        ("Bearer one two", "The access token is not valid."),
    ],
    ids=["no-token", "blank-token", "basic", "other-scheme", "two-words"],
)
def test_a_malformed_header_makes_nobody_and_says_why(
    world: World, header: str, error: str
) -> None:
    assert world.who(header) == {"scopes": [], "error": error}


def test_an_expired_token_says_so(world: World) -> None:
    token, _ = world.token()
    world.clock.now += 10_000
    assert world.who(f"Bearer {token}") == {"scopes": [], "error": "The access token has expired."}


def test_a_token_of_an_ended_session_makes_nobody(world: World) -> None:
    token, session = world.token()
    assert world.client.portal is not None
    world.client.portal.call(world.sessions.revoke, session)
    assert world.who(f"Bearer {token}") == {
        "scopes": [], "error": "The session of this token has ended."
    }  # fmt: skip


class AwaySessions(SessionStore):
    def __init__(self, *, slow: bool) -> None:
        super().__init__(MemoryStore())
        self.slow = slow

    async def is_alive(self, session_id: str, user_id: str | None = None) -> bool:
        raise StoreUnavailable("the session store is away", slow=self.slow)


def test_by_default_a_token_passes_while_the_session_store_is_away(world: World) -> None:
    """Failing open is the default: the token's signature and times are still checked."""
    app = Starlette(
        routes=[Route("/who", lambda request: JSONResponse({"id": request.user.display_name}))],
        middleware=[Middleware(AuthenticationMiddleware, tokens=world.tokens,
                               sessions=AwaySessions(slow=False))],
    )  # fmt: skip
    token, _ = world.token()
    with TestClient(app) as client:
        assert client.get("/who", headers={"Authorization": f"Bearer {token}"}).json() == {
            "id": "7"
        }


def test_a_slow_session_store_is_a_503_that_says_so(world: World) -> None:
    app = Starlette(
        routes=[Route("/who", lambda request: JSONResponse({}))],
        middleware=[Middleware(AuthenticationMiddleware, tokens=world.tokens,
                               sessions=AwaySessions(slow=True))],
    )  # fmt: skip
    token, _ = world.token()
    with TestClient(app) as client:
        answer = client.get("/who", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["detail"] == "Sign-ins cannot be checked right now; retry shortly."
