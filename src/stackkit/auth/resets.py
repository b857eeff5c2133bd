"""`PasswordResets`: single-use, expiring tokens for the "forgot my password" email.

The store keeps only a digest of each token, so that reading the store does not
give working links. A token is redeemed by deleting it, which only one caller can
do; it is also bound to the password it would replace, so that it dies as soon as
the password changes by any other way.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

from stackkit.cache.store import Store

__all__ = ["PasswordResets", "ResetClaim", "password_fingerprint"]

MAX_RESET_TOKEN_LENGTH = 100


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ResetClaim:
    user_id: int
    fingerprint: str
    """`password_fingerprint` of the hash the reset replaces."""


class PasswordResets:
    """Issue and redeem reset tokens.

    Args:
        store: where the digests live until they expire (shared by every worker in Redis).
        ttl: seconds a token stays valid.
    """

    def __init__(self, store: Store, *, ttl: float = 3600) -> None:
        self.store = store
        self.ttl = ttl

    @staticmethod
    def _key(token: str) -> str:
        return "password-reset:" + hashlib.sha256(token.encode()).hexdigest()

    async def issue(self, user_id: int, password_hash: str) -> str:
        token = secrets.token_urlsafe(32)
        claim = {"user_id": user_id, "fingerprint": password_fingerprint(password_hash)}
        await self.store.set(self._key(token), json.dumps(claim).encode(), ttl=self.ttl)
        return token

    async def peek(self, token: str) -> ResetClaim | None:
        """The claim of a live token, leaving it live (to check the new password before
        spending the link on it)."""
        if not token or len(token) > MAX_RESET_TOKEN_LENGTH:
            return None
        raw = await self.store.get(self._key(token))
        return None if raw is None else ResetClaim(**json.loads(raw))

    async def redeem(self, token: str) -> ResetClaim | None:
        """The claim of a live token, which is spent by this call; None for a token
        that is unknown, expired or spent."""
        if not token or len(token) > MAX_RESET_TOKEN_LENGTH:
            return None
        key = self._key(token)
        raw = await self.store.get(key)
        if raw is None or not await self.store.delete(key):
            return None  # never issued, expired, or redeemed by someone else first
        return ResetClaim(**json.loads(raw))
