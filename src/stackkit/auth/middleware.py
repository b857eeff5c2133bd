"""`AuthenticationMiddleware`: who is calling, from the `Authorization: Bearer` header.

Pure ASGI. It sets Starlette's `scope["user"]` and `scope["auth"]` (so that
`request.user`, `request.auth` and Starlette's own `requires` work too):

- no header: an anonymous user; public routes answer, the others 401;
- a valid access token of a live session: an `AuthenticatedUser`, with the
  token's roles as `request.auth.scopes` (plus `authenticated`);
- anything else (a bad header, a token that fails verification, a session that
  has ended): anonymous too, with the reason kept for the 401's
  `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750). A public route
  still answers: a stale token in a browser must not lock it out of the login page.

The session is looked up on every request (one store read: a dictionary lookup
in memory, one round trip to Redis), so a token stops working the moment its
session is revoked. When the store is away (refused, reset, unable to serve),
the token is accepted on its signature and expiry alone (`fail_open`, the
default: an outage of Redis must not sign everyone out), or the request gets a
503; when it is only slow (a timeout, every connection busy), always a 503.
"""

from __future__ import annotations

import logging

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.types import ASGIApp, Receive, Scope, Send

from stackkit.auth.tokens import AccessClaims, AccessTokens, InvalidToken
from stackkit.cache.sessions import SessionStore
from stackkit.cache.store import StoreUnavailable
from stackkit.http.problems import ProblemError, problem_for
from stackkit.http.routing import AUTH_ERROR_SCOPE_KEY
from stackkit.logs import ThrottledWarning

__all__ = ["AuthenticatedUser", "AuthenticationMiddleware"]

logger = logging.getLogger("stackkit.auth")

_ANONYMOUS = UnauthenticatedUser()
_NO_CREDENTIALS = AuthCredentials()


class AuthenticatedUser(BaseUser):
    """The user an access token names. `id` is the token's `sub`; load the row with
    the user service when more than the id and roles is needed."""

    __slots__ = ("claims", "id", "roles", "session_id")

    def __init__(self, claims: AccessClaims) -> None:
        self.claims = claims
        self.id = claims.subject
        self.roles = claims.roles
        self.session_id = claims.session_id

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.id

    @property
    def identity(self) -> str:
        return self.id


class AuthenticationMiddleware:
    """Pure ASGI.

    Args:
        tokens: verifies access tokens.
        sessions: where sessions live; a token's session must still exist.
        fail_open: when `sessions` does not answer, accept a token that verifies
            (True), or answer 503 (False).
    """

    def __init__(
        self, app: ASGIApp, *, tokens: AccessTokens, sessions: SessionStore, fail_open: bool = True
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.sessions = sessions
        self.fail_open = fail_open
        self._warn = ThrottledWarning(
            logger, "Sessions not checked, their store does not answer: %s"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["user"], scope["auth"] = _ANONYMOUS, _NO_CREDENTIALS
        header = _authorization(scope)
        if header is not None:
            try:
                claims = await self._authenticate(header)
            except InvalidToken as error:
                scope[AUTH_ERROR_SCOPE_KEY] = str(error)
            except StoreUnavailable:
                unavailable = ProblemError(
                    503, "Sign-ins cannot be checked right now; retry shortly.",
                    headers={"Retry-After": "5"},
                )  # fmt: skip
                await problem_for(unavailable, scope)(scope, receive, send)
                return
            else:
                scope["user"] = AuthenticatedUser(claims)
                scope["auth"] = AuthCredentials(["authenticated", *claims.roles])
        await self.app(scope, receive, send)

    async def _authenticate(self, header: str) -> AccessClaims:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise InvalidToken("The Authorization header must be 'Bearer <access token>'.")
        claims = self.tokens.verify(token)
        # The session must also be the token's user's: a token minted with a leaked key,
        # or a session id reused after a restore, names someone else's session.
        try:
            alive = await self.sessions.is_alive(claims.session_id, claims.subject)
        except StoreUnavailable as error:
            # Away, not merely slow: a flood that exhausts the connections must not
            # be a way past the check.
            if not self.fail_open or error.slow:
                raise
            self._warn(error)
            return claims
        if not alive:
            raise InvalidToken("The session of this token has ended.")
        return claims


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None
