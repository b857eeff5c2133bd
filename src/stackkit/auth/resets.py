"""`PasswordResets`: single-use, expiring tokens for the "forgot my password" email.

The tokens are `EmailedTokens` (digests in the store, spent by deleting them); each
is also bound to the password it would replace, so that it dies as soon as the
password changes by any other way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from stackkit.auth.links import EmailedTokens
from stackkit.cache.store import Store

__all__ = ["PasswordResets", "ResetClaim", "password_fingerprint"]


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ResetClaim:
    user_id: int
    fingerprint: str
    """`password_fingerprint` of the hash the reset replaces."""


class PasswordResets:
    """Issue and redeem reset tokens (`EmailedTokens` of purpose `password-reset`).

    Args:
        store: where the digests live until they expire (shared by every worker in Redis).
        ttl: seconds a token stays valid.
    """

    def __init__(self, store: Store, *, ttl: float = 3600) -> None:
        self.tokens = EmailedTokens(store, purpose="password-reset", ttl=ttl)
        self.store = store
        self.ttl = ttl

    async def issue(self, user_id: int, password_hash: str) -> str:
        return await self.tokens.issue(
            {"user_id": user_id, "fingerprint": password_fingerprint(password_hash)}
        )

    async def peek(self, token: str) -> ResetClaim | None:
        """The claim of a live token, leaving it live (to check the new password before
        spending the link on it)."""
        claim = await self.tokens.peek(token)
        return None if claim is None else ResetClaim(**claim)

    async def redeem(self, token: str) -> ResetClaim | None:
        """The claim of a live token, which is spent by this call; None for a token
        that is unknown, expired or spent."""
        claim = await self.tokens.redeem(token)
        return None if claim is None else ResetClaim(**claim)
