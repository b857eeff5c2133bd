"""`AuthenticationMiddleware`: who is calling, asked of each authentication backend in turn.

Pure ASGI. It sets Starlette's `scope["user"]` and `scope["auth"]` (so that
`request.user`, `request.auth` and Starlette's own `requires` work too):

- no backend knows the caller: an anonymous user; public routes answer, the
  others 401;
- a backend names a `Principal` (by default `BearerTokenBackend`: a valid access
  token of a live session, an `AuthenticatedUser`): that user, with its roles as
  `request.auth.scopes` (plus `authenticated`);
- a backend refuses the credentials (`AuthenticationFailed`: a bad header, a token
  that fails verification, a session that has ended): anonymous too, with the
  reason kept for the 401's `WWW-Authenticate: Bearer error="invalid_token"`
  (RFC 6750). A public route still answers: a stale token in a browser must not
  lock it out of the login page;
- a backend raises a `ProblemError` (its store does not answer): that answer.

See `stackkit.auth.authentication` for the backends.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.types import ASGIApp, Receive, Scope, Send

from stackkit.auth.authentication import (
    AuthenticatedUser,
    AuthenticationBackend,
    AuthenticationFailed,
    BearerTokenBackend,
)
from stackkit.auth.sessions import SessionStore
from stackkit.auth.tokens import AccessTokens
from stackkit.errors import ProblemError
from stackkit.http.problems import problem_for
from stackkit.http.routing import AUTH_ERROR_SCOPE_KEY

__all__ = ["AuthenticatedUser", "AuthenticationMiddleware"]

_ANONYMOUS = UnauthenticatedUser()
_NO_CREDENTIALS = AuthCredentials()


class AuthenticationMiddleware:
    """Pure ASGI.

    Args:
        tokens: verifies access tokens (for the bearer token backend).
        sessions: where sessions live; a token's session must still exist.
        fail_open: when `sessions` does not answer, accept a token that verifies
            (True), or answer 503 (False).
        backends: ways in asked after the bearer token, in order.
        api_keys: asked first, for `Bearer sk_...` (other bearer values are access tokens).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: AccessTokens,
        sessions: SessionStore,
        fail_open: bool = True,
        backends: Sequence[AuthenticationBackend] = (),
        api_keys: AuthenticationBackend | None = None,
    ) -> None:
        self.app = app
        bearer = BearerTokenBackend(tokens=tokens, sessions=sessions, fail_open=fail_open)
        first = [api_keys] if api_keys is not None else []
        self.backends: list[AuthenticationBackend] = [*first, bearer, *backends]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["user"], scope["auth"] = _ANONYMOUS, _NO_CREDENTIALS
        for backend in self.backends:
            try:
                user = await backend.authenticate(scope)
            except AuthenticationFailed as error:
                scope[AUTH_ERROR_SCOPE_KEY] = str(error)
                break
            except ProblemError as problem:
                await problem_for(problem, scope)(scope, receive, send)
                return
            if user is not None:
                scope["user"] = user
                scope["auth"] = AuthCredentials(["authenticated", *user.roles])
                break
        await self.app(scope, receive, send)
