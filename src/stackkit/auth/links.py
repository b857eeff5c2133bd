"""`EmailedTokens`: single-use, expiring tokens for the links the app emails (a password
reset, an address to verify).

The store keeps only a digest of each token, under a key of the link's purpose, so
that reading the store does not give working links, and a token of one purpose is
unknown to every other. A token is redeemed by deleting it, which only one caller
can do. What a token stands for (its claim: a user id, an address, a fingerprint)
is the caller's, stored as JSON with it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from stackkit.cache.store import Store

__all__ = ["MAX_LINK_TOKEN_LENGTH", "EmailedTokens"]

MAX_LINK_TOKEN_LENGTH = 100


class EmailedTokens:
    """Issue, read and redeem the tokens of one kind of link.

    Args:
        store: where the digests live until they expire (shared by every worker in Redis).
        purpose: the kind of link, a key prefix (`password-reset`, `email-verify`).
        ttl: seconds a token stays valid.
    """

    def __init__(self, store: Store, *, purpose: str, ttl: float) -> None:
        self.store = store
        self.purpose = purpose
        self.ttl = ttl

    def _key(self, token: str) -> str:
        return f"{self.purpose}:" + hashlib.sha256(token.encode()).hexdigest()

    async def issue(self, claim: dict[str, Any]) -> str:
        """A new token (256 random bits, URL-safe) that stands for `claim`."""
        token = secrets.token_urlsafe(32)
        await self.store.set(self._key(token), json.dumps(claim).encode(), ttl=self.ttl)
        return token

    async def peek(self, token: str) -> dict[str, Any] | None:
        """The claim of a live token, leaving it live (to check what it is spent on
        before spending it)."""
        if not token or len(token) > MAX_LINK_TOKEN_LENGTH:
            return None
        raw = await self.store.get(self._key(token))
        return None if raw is None else dict(json.loads(raw))

    async def redeem(self, token: str) -> dict[str, Any] | None:
        """The claim of a live token, which is spent by this call; None for a token
        that is unknown, expired or spent."""
        if not token or len(token) > MAX_LINK_TOKEN_LENGTH:
            return None
        key = self._key(token)
        raw = await self.store.get(key)
        if raw is None or not await self.store.delete(key):
            return None  # never issued, expired, or redeemed by someone else first
        return dict(json.loads(raw))
