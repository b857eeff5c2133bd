"""`RefreshSessions`: sign-in sessions and their rotating refresh tokens.

A refresh token is `<session id>.<generation>.<mac>`: the MAC is an HMAC-SHA256
of the session id and a generation number that each refresh raises by one. Its
key is made from a random value kept with the session and the app's secret keys
(`secret_keys`, required), so that whoever reads the session store still cannot
make a token.
The store keeps only the session and its current generation, yet recognises
every token it ever gave out:

- the current generation: valid; the refresh hands out the next one (rotation);
- an earlier generation: a spent token. Presented again, it means the token was
  copied, so the whole session ends (RFC 9700, section 4.14.2), and with it the
  newest refresh token and every access token of the session;
- a later generation than the store's: the store lost its last rotations (a Redis
  restored from a snapshot); the token is taken as the current one;
- a MAC that does not verify: not a token of ours; refused, nothing revoked (so
  that nobody can end someone else's session by guessing).

Two refreshes sent at once with the same token (two browser tabs) both succeed:
the rotation is a function of the generation, so both get the same new token,
and only the first writes (a claim per generation, kept a minute, keeps a late
duplicate from rolling the session back).
For `grace` seconds after a rotation the previous token still yields the current
one, for a client whose first answer was lost; past that it counts as reuse.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from stackkit.auth.sessions import Session, SessionStore

__all__ = ["InvalidRefreshToken", "RefreshGrant", "RefreshSessions", "RefreshTokenReused"]

MAX_REFRESH_TOKEN_LENGTH = 200


class InvalidRefreshToken(Exception):
    """The refresh token is malformed, unknown, expired or revoked."""


class RefreshTokenReused(InvalidRefreshToken):
    """A spent refresh token came back: its session has been revoked.

    Attributes:
        session: the session that ended.
    """

    def __init__(self, message: str, session: Session) -> None:
        super().__init__(message)
        self.session = session


@dataclass(frozen=True)
class RefreshGrant:
    session: Session
    refresh_token: str


class RefreshSessions:
    """Start, rotate and end refresh sessions, on a `SessionStore`.

    Args:
        sessions: where sessions live (their sliding and absolute lifetimes are its own).
        secret_keys: required; the app's secret keys, the current one first
            (`SECRET_KEY`, then its fallbacks): the first makes new tokens, each
            verifies. They are what keeps a reader of the session store from making
            tokens. (Sessions that an older stackkit made without them keep their
            plain key until they end.)
        grace: seconds after a rotation during which the previous token still
            yields the current one (0: never).
        clock: Unix time in seconds; tests pass their own.

    Raises:
        TypeError: `secret_keys` is missing, or is one string rather than a sequence.
        ValueError: `secret_keys` is empty or holds an empty key.
    """

    def __init__(
        self,
        sessions: SessionStore,
        *,
        secret_keys: Sequence[str],
        grace: float = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(secret_keys, str | bytes):
            raise TypeError(
                "secret_keys is a sequence of keys, the current one first: "
                "RefreshSessions(store, secret_keys=[SECRET_KEY, *fallbacks])"
            )
        keys = list(secret_keys)
        if not keys or not all(isinstance(key, str) and key for key in keys):
            raise ValueError(
                "RefreshSessions needs the app's secret keys (SECRET_KEY, then its "
                "fallbacks), none of them empty: without them, whoever reads the session "
                "store can make refresh tokens"
            )
        self.sessions = sessions
        self.grace = grace
        self.clock = clock
        self._peppers = [_pepper(secret) for secret in keys]

    async def start(self, user_id: str, **details: Any) -> RefreshGrant:
        """A new session for `user_id` and its first refresh token. `details` (user
        agent, address) are kept with the session, for the user's list of sessions."""
        data = {
            **details,
            "key": secrets.token_urlsafe(32),
            "wrapped": True,
            "generation": 1,
            "rotated_at": self.clock(),
        }
        session = await self.sessions.create(str(user_id), data)
        return RefreshGrant(session, _token(self._signing_key(session), session.id, 1))

    async def rotate(self, refresh_token: str) -> RefreshGrant:
        """Spend `refresh_token` for the next one, extending the session.

        Raises:
            RefreshTokenReused: the token was spent already; the session is revoked.
            InvalidRefreshToken: the token is not a live token of ours.
        """
        session, generation = await self._find(refresh_token)
        current = int(session.data["generation"])
        if generation > current:
            # Only we make tokens (the MAC verified), so a generation past the store's
            # means the store lost its last rotations (Redis restarted from a snapshot):
            # catch up rather than take it for reuse and sign the user out.
            current = generation
        key = self._signing_key(session)
        if generation == current:
            next_token = _token(key, session.id, current + 1)
            if not await self._claim(session.id, current):
                # Another request is rotating this generation (the same client, twice):
                # the next token is the same for both; only the first one writes it.
                return RefreshGrant(await self._rotated(session.id, current), next_token)
            data = {**session.data, "generation": current + 1, "rotated_at": self.clock()}
            try:
                touched = await self.sessions.touch(session.id, data)
            except BaseException:
                # Let a retry of the same token rotate: the claim was not carried out.
                with contextlib.suppress(Exception):
                    await self.sessions.store.delete(self._claim_key(session.id, current))
                raise
            if touched is None:
                raise InvalidRefreshToken("The session has ended.")
            return RefreshGrant(touched, next_token)
        within_grace = self.clock() - session.data["rotated_at"] <= self.grace
        if generation == current - 1 and self.grace > 0 and within_grace:
            return RefreshGrant(session, _token(key, session.id, current))
        await self.sessions.revoke(session.id)
        raise RefreshTokenReused(
            "A spent refresh token was used again; the session has ended.", session
        )

    async def session_of(self, refresh_token: str) -> Session:
        """The live session a refresh token of any generation belongs to (to log out
        with it), without spending it.

        Raises:
            InvalidRefreshToken: the token is not a live token of ours.
        """
        session, _ = await self._find(refresh_token)
        return session

    @staticmethod
    def _claim_key(session_id: str, generation: int) -> str:
        return f"refresh-claim:{{{session_id}}}:{generation}"

    async def _claim(self, session_id: str, generation: int) -> bool:
        """Whether this call is the one that rotates `generation` of the session. Without
        it, a request that read the session long ago could write an older generation
        over a newer one, and the client's newest token would then look spent."""
        claim = self._claim_key(session_id, generation)
        return await self.sessions.store.set_if_absent(claim, b"1", ttl=self.grace + 60)

    async def _rotated(self, session_id: str, generation: int) -> Session:
        """The session once the request that claimed `generation` has written the next
        one (milliseconds), so that the token handed out is one the session knows.

        Raises:
            InvalidRefreshToken: the session ended, or the other rotation did not land
                within a second (retry with the same token).
        """
        deadline = time.monotonic() + 1.0
        delay = 0.002
        while True:
            session = await self.sessions.get(session_id)
            if session is None:
                raise InvalidRefreshToken("The session has ended.")
            if int(session.data["generation"]) > generation:
                return session
            if time.monotonic() > deadline:
                raise InvalidRefreshToken("A refresh of this token is under way; retry.")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def _find(self, refresh_token: str) -> tuple[Session, int]:
        well_formed = len(refresh_token) <= MAX_REFRESH_TOKEN_LENGTH and refresh_token.isascii()
        parts = refresh_token.split(".") if well_formed else []
        if len(parts) != 3 or not parts[1].isdigit():
            raise InvalidRefreshToken("The refresh token is not valid.")
        session_id, generation = parts[0], int(parts[1])
        session = await self.sessions.get(session_id)
        if session is None:
            raise InvalidRefreshToken("The session has expired or was revoked.")
        for key in self._verifying_keys(session):
            expected = _token(key, session_id, generation)
            if hmac.compare_digest(expected.encode(), refresh_token.encode()):
                return session, generation
        raise InvalidRefreshToken("The refresh token is not valid.")

    def _signing_key(self, session: Session) -> bytes:
        return self._verifying_keys(session)[0]

    def _verifying_keys(self, session: Session) -> list[bytes]:
        """The MAC keys a token of `session` may be under: the stored value wrapped by
        each secret (the current one first), or the value itself for a session that
        an older stackkit made before secrets were used (until it ends)."""
        stored = str(session.data["key"]).encode()
        if not session.data.get("wrapped"):
            return [stored]
        return [hmac.new(pepper, stored, hashlib.sha256).digest() for pepper in self._peppers]


def _pepper(secret: str) -> bytes:
    """A key of its own for refresh tokens, from an app secret (domain separation: the
    same secret also signs access tokens and page cursors)."""
    return hmac.new(secret.encode(), b"stackkit refresh tokens", hashlib.sha256).digest()


def _token(key: bytes, session_id: str, generation: int) -> str:
    message = f"{session_id}.{generation}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return f"{session_id}.{generation}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"
