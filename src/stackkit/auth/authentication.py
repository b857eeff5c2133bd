"""Ways to tell who is calling: a list of authentication backends, each asked in turn.

A backend looks at the request (`scope`) and answers with one of:

- a `Principal`: the caller, who becomes `request.user`; the walk stops;
- None: no credentials of its kind; the next backend is asked, and when none
  knows the caller, the request goes on anonymous;
- `AuthenticationFailed`: credentials of its kind that are wrong (a bad token, an
  unknown key); the request goes on anonymous with the reason, and a route that
  needs a user answers 401 with it (a public route still answers);
- a `ProblemError` (a 503 when what it checks against does not answer): the
  request is answered with it at once.

The bearer access token of a live session (`BearerTokenBackend`) is always asked
first; an app adds its own with `AuthConfig(backends=[...])`.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from starlette.authentication import BaseUser

from stackkit.auth.tokens import AccessClaims, AccessTokens, InvalidToken
from stackkit.cache.store import StoreUnavailable
from stackkit.errors import ProblemError
from stackkit.http.read_ahead import take_read
from stackkit.logs import ThrottledWarning

if TYPE_CHECKING:
    from starlette.types import Scope

    from stackkit.auth.sessions import SessionStore

__all__ = [
    "AuthenticatedUser",
    "AuthenticationBackend",
    "AuthenticationFailed",
    "BearerTokenBackend",
    "Principal",
]

logger = logging.getLogger("stackkit.auth")


@runtime_checkable
class Principal(Protocol):
    """Who is calling, as `request.user`: what stackkit's routes, resources, rate
    limits and cache keys read of a signed-in caller."""

    @property
    def id(self) -> str:
        """A stable id (a user's primary key, as text): owners, limits and cache keys."""

    @property
    def roles(self) -> Collection[str]:
        """What the caller may do beyond a signed-in user (`admin`, ...)."""

    @property
    def is_authenticated(self) -> bool:
        """True: Starlette's `requires` and `request.user.is_authenticated` read it."""

    @property
    def display_name(self) -> str:
        """How to name the caller to a human."""


class AuthenticationFailed(Exception):
    """Credentials that a backend reads were given and are wrong; the message says why
    (it goes to the client in the 401's problem and `WWW-Authenticate`)."""


class AuthenticationBackend(abc.ABC):
    """One way in. Subclass it and give `authenticate`."""

    @abc.abstractmethod
    async def authenticate(self, scope: Scope) -> Principal | None:
        """The caller `scope`'s credentials name, or None when it carries none of this
        backend's kind.

        Raises:
            AuthenticationFailed: credentials of this kind that do not check out.
            ProblemError: the request must be answered with it now (a 503).
        """


class AuthenticatedUser(BaseUser):
    """The user an access token names. `id` is the token's `sub`; load the row with
    the user service when more than the id and roles is needed."""

    __slots__ = ("claims", "email_verified", "id", "roles", "session_id")

    def __init__(self, claims: AccessClaims) -> None:
        self.claims = claims
        self.id = claims.subject
        self.roles = claims.roles
        self.session_id = claims.session_id
        self.email_verified = claims.email_verified

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.id

    @property
    def identity(self) -> str:
        return self.id


class BearerTokenBackend(AuthenticationBackend):
    """`Authorization: Bearer <access token>` whose session is still alive.

    The session is looked up on every request (one store read: a dictionary lookup
    in memory, one round trip to Redis), so a token stops working the moment its
    session is revoked. When the store is away (refused, reset, unable to serve),
    the token is accepted on its signature and expiry alone (`fail_open`, the
    default: an outage of Redis must not sign everyone out), or the request gets a
    503; when it is only slow (a timeout, every connection busy), always a 503.

    Args:
        tokens: verifies access tokens.
        sessions: where sessions live; a token's session must still exist.
        fail_open: when `sessions` does not answer, accept a token that verifies
            (True), or answer 503 (False).
    """

    def __init__(
        self, *, tokens: AccessTokens, sessions: SessionStore, fail_open: bool = True
    ) -> None:
        self.tokens = tokens
        self.sessions = sessions
        self.fail_open = fail_open
        self._warn = ThrottledWarning(
            logger, "Sessions not checked, their store does not answer: %s"
        )

    async def authenticate(self, scope: Scope) -> AuthenticatedUser | None:
        header = authorization(scope)
        if header is None:
            return None
        try:
            return AuthenticatedUser(await self._claims(header, scope))
        except InvalidToken as error:
            raise AuthenticationFailed(str(error)) from None
        except StoreUnavailable:
            raise ProblemError(
                503,
                "Sign-ins cannot be checked right now; retry shortly.",
                headers={"Retry-After": "5"},
            ) from None

    async def _claims(self, header: str, scope: Scope) -> AccessClaims:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise InvalidToken("The Authorization header must be 'Bearer <access token>'.")
        claims = self.tokens.verify(token)
        # The session must also be the token's user's: a token minted with a leaked key,
        # or a session id reused after a restore, names someone else's session.
        identity = (claims.session_id, claims.subject)
        try:
            read = take_read(scope, "session", identity)  # one started by ReadAheadMiddleware
            alive = await (read if read is not None else self.sessions.is_alive(*identity))
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


def authorization(scope: Scope) -> str | None:
    """The request's `Authorization` header, if it has one."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None
