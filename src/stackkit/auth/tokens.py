"""`AccessTokens`: issue and verify the short-lived JWTs that authenticate requests.

A token carries `sub` (the user), `sid` (the refresh session it belongs to),
`roles`, `jti`, `iat`, `nbf`, `exp`, `iss` and `aud`, and its header says
`typ: at+jwt` (RFC 9068): a JWT of another kind signed with the same key (or a
refresh token, which is not a JWT at all) is never taken for an access token.

Verification pins the algorithm and the key by `kid`, and requires every claim.
The times are checked on every use with one small leeway for clock differences
(`leeway`, 5 seconds by default): past `exp`, before `nbf`, or issued (`iat`) in
the future, a token is refused. We never issue a token in the future, so such a
token was made elsewhere with our key, or by a worker whose clock is wrong.
Any token it cannot accept, however malformed, raises `InvalidToken` (a 401),
never anything else.

A PyJWT decode costs about as much as the rest of a request, so a verified
token is remembered (by its exact string, in a bounded table) until it expires;
later uses only re-check the time. The session is checked on every use by the
middleware, so a revoked session's tokens stop at once all the same.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jwt

from stackkit.auth.keys import TokenKeys

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "DEFAULT_LEEWAY",
    "AccessClaims",
    "AccessTokens",
    "InvalidToken",
    "IssuedToken",
]

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (RFC 9068's JWT type, not a secret)
MAX_TOKEN_LENGTH = 8192
DEFAULT_LEEWAY = 5.0
"""Seconds of clock difference tolerated on `exp`, `nbf` and `iat`: a token issued up
to this far in the future (by a worker whose clock runs ahead) is still accepted."""
_MAX_HEADERS = 64
_REQUIRED = ("sub", "sid", "exp", "iat", "nbf", "jti", "iss", "aud")
# Every claim required; the times are checked by `verify`, on the object's clock, at
# every use. Options set once: merging them on every call costs a microsecond.
_DECODER = jwt.PyJWT(
    options={
        "require": list(_REQUIRED),
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
    }
)


class InvalidToken(Exception):
    """The token cannot be accepted; the message says why, for the 401's
    `error_description` (never what would help forge one)."""


class AccessClaims(NamedTuple):
    """What a verified access token says. (A named tuple: it is built for every new
    token, and costs a third of a frozen dataclass to make.)"""

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
    email_verified: bool = False
    """`ev`: whether the app counted the user's email address as verified when it
    issued the token (routes declared `verified=True` ask for it)."""


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
        leeway: seconds of clock difference tolerated on `exp`, `nbf` and `iat`
            (between the workers of one app, clocks agree: keep it small).
        cache_size: verified tokens remembered (0: none).
        clock: Unix time in seconds; tests pass their own.
    """

    def __init__(
        self,
        keys: TokenKeys,
        *,
        issuer: str = "stackkit",
        audience: str = "stackkit",
        ttl: int = 900,
        leeway: float = DEFAULT_LEEWAY,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        if leeway < 0:
            raise ValueError("leeway must be 0 or more")
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self.leeway = leeway
        self.cache_size = cache_size
        self.clock = clock
        self._algorithms = [keys.algorithm]
        self._verified: dict[str, AccessClaims] = {}
        self._key_by_header: dict[str, Any] = {}

    def issue(
        self,
        subject: str,
        session_id: str,
        roles: Sequence[str] = (),
        *,
        email_verified: bool = False,
    ) -> IssuedToken:
        now = int(self.clock())
        claims = {
            "sub": str(subject),
            "sid": session_id,
            "roles": sorted(set(roles)),
            "ev": email_verified,
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
            if self.cache_size > 0:
                if len(self._verified) >= self.cache_size:
                    # The oldest entry goes: cheaper than LRU upkeep on every hit.
                    del self._verified[next(iter(self._verified))]
                self._verified[token] = claims
        if now >= claims.expires_at + self.leeway:
            self._verified.pop(token, None)
            raise InvalidToken("The access token has expired.")
        if now < claims.not_before - self.leeway:
            raise InvalidToken("The access token is not valid yet.")
        if now < claims.issued_at - self.leeway:
            raise InvalidToken("The access token was issued in the future.")
        return claims

    def _decode(self, token: str) -> AccessClaims:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("The access token is too long.")
        try:
            payload = _DECODER.decode(
                token,
                self._key_for(token),
                algorithms=self._algorithms,
                audience=self.audience,
                issuer=self.issuer,
            )
        except InvalidToken:
            raise
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError):
            # PyJWT's own errors, and what hostile input can raise on the way (a header
            # that is JSON but not an object, numbers that overflow, ...).
            raise InvalidToken("The access token is not valid.") from None
        return _claims(payload)

    def _key_for(self, token: str) -> Any:
        """The verification key the token's header names, if the header is one of ours.

        Tokens signed with one key share one encoded header, so the answer is kept
        per encoded header: reading it again for every new token would cost a tenth
        of the decode. `jwt.decode` then checks the whole token strictly.
        """
        encoded = token.partition(".")[0]
        key = self._key_by_header.get(encoded)
        if key is not None:
            return key
        header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        kid = header.get("kid") if isinstance(header, dict) else None
        if not isinstance(kid, str) or kid not in self.keys.verification_keys:
            raise InvalidToken("The access token was signed with an unknown key.")
        if header.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidToken("The token is not an access token.")
        key = self.keys.verification_keys[kid]
        if len(self._key_by_header) < _MAX_HEADERS:
            self._key_by_header[encoded] = key
        return key


def _claims(payload: dict[str, Any]) -> AccessClaims:
    subject, session_id, token_id = payload["sub"], payload["sid"], payload["jti"]
    times = (payload["iat"], payload["nbf"], payload["exp"])
    roles = payload.get("roles", [])
    email_verified = payload.get("ev", False)  # tokens made before the claim have none
    # Exact types: JSON gives str, int, float and list, and a bool is no time.
    if (
        type(subject) is not str
        or type(session_id) is not str
        or type(token_id) is not str
        or not (subject and session_id and token_id)
        or any(type(t) is not int and type(t) is not float for t in times)
        or type(roles) is not list
        or any(type(role) is not str for role in roles)
        or type(email_verified) is not bool
    ):
        raise InvalidToken("The access token is not valid.")
    return AccessClaims(
        subject, session_id, frozenset(roles), token_id,
        float(times[0]), float(times[1]), float(times[2]), email_verified,
    )  # fmt: skip
