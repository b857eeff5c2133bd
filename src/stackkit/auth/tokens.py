"""`AccessTokens`: issue and verify the short-lived JWTs that authenticate requests.

A token carries `sub` (the user), `sid` (the refresh session it belongs to),
`roles`, `jti`, `iat`, `nbf`, `exp`, `iss` and `aud`, and its header says
`typ: at+jwt` (RFC 9068): a JWT of another kind signed with the same key (or a
refresh token, which is not a JWT at all) is never taken for an access token.

Verification pins the algorithm and the key by `kid`, and requires every claim.
Any token it cannot accept, however malformed, raises `InvalidToken` (a 401),
never anything else.

A PyJWT decode costs about as much as the rest of a request, so a verified
token is remembered (by its exact string, in a bounded table) until it expires;
later uses only re-check the time. The session is checked on every use by the
middleware, so a revoked session's tokens stop at once all the same.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from stackkit.auth.keys import TokenKeys

__all__ = ["ACCESS_TOKEN_TYPE", "AccessClaims", "AccessTokens", "InvalidToken", "IssuedToken"]

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (RFC 9068's JWT type, not a secret)
MAX_TOKEN_LENGTH = 8192
_REQUIRED = ("sub", "sid", "exp", "iat", "nbf", "jti", "iss", "aud")


class InvalidToken(Exception):
    """The token cannot be accepted; the message says why, for the 401's
    `error_description` (never what would help forge one)."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says."""

    subject: str
    """The user's id (`sub`)."""
    session_id: str
    """The refresh session (`sid`) the token was issued in."""
    roles: frozenset[str]
    token_id: str
    """`jti`."""
    issued_at: float
    not_before: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int
    """Seconds, for the `expires_in` of the token response."""


class AccessTokens:
    """Issues and verifies access tokens.

    Args:
        keys: the pinned algorithm, the signing key and the verification keys.
        issuer: `iss` of issued tokens, required of verified ones.
        audience: `aud` of issued tokens, required of verified ones.
        ttl: seconds an issued token lives.
        leeway: seconds of clock difference tolerated on `exp` and `nbf` (between
            the workers of one app, clocks agree: keep it small).
        cache_size: verified tokens remembered.
        clock: Unix time in seconds; tests pass their own.
    """

    def __init__(
        self,
        keys: TokenKeys,
        *,
        issuer: str = "stackkit",
        audience: str = "stackkit",
        ttl: int = 900,
        leeway: float = 5,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self.leeway = leeway
        self.cache_size = cache_size
        self.clock = clock
        self._algorithms = [keys.algorithm]
        self._verified: dict[str, AccessClaims] = {}

    def issue(self, subject: str, session_id: str, roles: Sequence[str] = ()) -> IssuedToken:
        now = int(self.clock())
        claims = {
            "sub": str(subject),
            "sid": session_id,
            "roles": sorted(set(roles)),
            "jti": secrets.token_urlsafe(12),
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "iss": self.issuer,
            "aud": self.audience,
        }
        headers = {"kid": self.keys.signing_kid, "typ": ACCESS_TOKEN_TYPE}
        token = jwt.encode(
            claims, self.keys.signing_key, algorithm=self.keys.algorithm, headers=headers
        )
        return IssuedToken(token, self.ttl)

    def verify(self, token: str) -> AccessClaims:
        """The claims of a valid, current access token.

        Raises:
            InvalidToken: for anything else.
        """
        now = self.clock()
        claims = self._verified.get(token)
        if claims is None:
            claims = self._decode(token)
            if len(self._verified) >= self.cache_size:
                # The oldest entry goes: cheaper than LRU upkeep on every hit.
                del self._verified[next(iter(self._verified))]
            self._verified[token] = claims
        if now >= claims.expires_at + self.leeway:
            self._verified.pop(token, None)
            raise InvalidToken("The access token has expired.")
        if now < claims.not_before - self.leeway:
            raise InvalidToken("The access token is not valid yet.")
        return claims

    def _decode(self, token: str) -> AccessClaims:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("The access token is too long.")
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if not isinstance(kid, str) or kid not in self.keys.verification_keys:
                raise InvalidToken("The access token was signed with an unknown key.")
            if header.get("typ") != ACCESS_TOKEN_TYPE:
                raise InvalidToken("The token is not an access token.")
            payload = jwt.decode(
                token,
                self.keys.verification_keys[kid],
                algorithms=self._algorithms,
                audience=self.audience,
                issuer=self.issuer,
                # The times are checked by `verify`, on this object's clock, at every use.
                options={
                    "require": list(_REQUIRED),
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except InvalidToken:
            raise
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError):
            # PyJWT's own errors, and what hostile input can raise on the way (a header
            # that is JSON but not an object, numbers that overflow, ...).
            raise InvalidToken("The access token is not valid.") from None
        return _claims(payload)


def _claims(payload: dict[str, Any]) -> AccessClaims:
    roles = payload.get("roles", [])
    strings = (payload["sub"], payload["sid"], payload["jti"])
    numbers = (payload["iat"], payload["nbf"], payload["exp"])
    if (
        not all(isinstance(value, str) and value for value in strings)
        or not isinstance(roles, list)
        or not all(isinstance(role, str) for role in roles)
        or not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers)
    ):
        raise InvalidToken("The access token is not valid.")
    return AccessClaims(
        subject=payload["sub"],
        session_id=payload["sid"],
        roles=frozenset(roles),
        token_id=payload["jti"],
        issued_at=float(payload["iat"]),
        not_before=float(payload["nbf"]),
        expires_at=float(payload["exp"]),
    )
