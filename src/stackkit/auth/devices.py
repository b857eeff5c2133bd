"""`DeviceCookies`: a browser that signed in to an account before is not locked out of it.

The per-account sign-in limit (`AuthConfig.login_limit_per_account`) stops password
guessing spread over many addresses, but anyone can spend it: an attacker who sends
wrong passwords for someone's email locks that person out. Device cookies, as OWASP
describes them ("Slow Down Online Guessing Attacks with Device Cookies"), let the
owner in all the same:

- A successful sign-in gets a device cookie, `<nonce>.<expires>.<mac>`: a random
  nonce, a Unix expiry, and an HMAC-SHA256 of the normalised email, the nonce and the
  expiry, under a key derived from `SECRET_KEY` (its fallbacks verify too). It binds
  the cookie to that account without naming it.
- A sign-in that presents a valid device cookie for the email it names is counted
  against that cookie (its nonce), not against the account, so the account's limit
  does not stop it. One cookie vouches for `attempts` sign-ins at most; past that it
  vouches no more, and its sign-ins count against the account like anyone's. Each
  success hands out a new cookie, so what a cookie spends is the failures since the
  browser last got in.
- A cookie that is malformed, forged, expired, bound to another account, or signed
  with a key no longer held is no device cookie: the sign-in counts against the
  account, as without one.

Only sign-ins read the cookie: one store command (an increment) when one is
presented, in place of the account's limit check; nothing on other requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stackkit.auth.emails import normalize_email
from stackkit.cache.store import Store

__all__ = ["DeviceCookie", "DeviceCookies"]

MAX_DEVICE_COOKIE_LENGTH = 200
_PURPOSE = b"stackkit device cookies v1"


@dataclass(frozen=True)
class DeviceCookie:
    """A device cookie: its value, and what it carries."""

    value: str
    nonce: str
    expires_at: int
    """Unix time, in seconds."""


class DeviceCookies:
    """Issue device cookies, and decide which sign-ins they vouch for.

    Args:
        store: where each cookie's count of sign-ins is kept, until it expires.
        secret_keys: the app's secret keys, the current one first (`SECRET_KEY`, then
            its fallbacks): the first signs, each verifies.
        ttl: seconds a cookie lives.
        attempts: sign-ins one cookie vouches for; 0 turns device cookies off.
        clock: Unix time in seconds; tests pass their own.

    Raises:
        ValueError: no secret key, while device cookies are on.
    """

    def __init__(
        self,
        store: Store,
        *,
        secret_keys: Sequence[str],
        ttl: float = 30 * 86400,
        attempts: int = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if attempts and not secret_keys:
            raise ValueError("device cookies need a secret key to sign them")
        self.store = store
        self.ttl = ttl
        self.attempts = attempts
        self.clock = clock
        self._keys = [_derive(secret) for secret in secret_keys]

    @property
    def enabled(self) -> bool:
        return self.attempts > 0

    def issue(self, email: str) -> DeviceCookie:
        """A new device cookie for the account of `email`."""
        nonce = secrets.token_urlsafe(18)
        expires_at = int(self.clock() + self.ttl)
        mac = _mac(self._keys[0], normalize_email(email), nonce, expires_at)
        return DeviceCookie(f"{nonce}.{expires_at}.{mac}", nonce, expires_at)

    def verify(self, value: str | None, email: str) -> DeviceCookie | None:
        """The cookie `value` stands for, if it is a live device cookie of ours for the
        account of `email`; else None."""
        if not value or len(value) > MAX_DEVICE_COOKIE_LENGTH or not value.isascii():
            return None
        parts = value.split(".")
        if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 12:
            return None
        nonce, expires_at, presented = parts[0], int(parts[1]), parts[2]
        if expires_at <= self.clock():
            return None
        account = normalize_email(email)
        for key in self._keys:
            if hmac.compare_digest(_mac(key, account, nonce, expires_at), presented):
                return DeviceCookie(value, nonce, expires_at)
        return None

    async def admit(self, value: str | None, email: str) -> bool:
        """Whether the cookie `value` vouches for this sign-in to the account of `email`,
        counting it against the cookie. False: count it against the account instead.

        Raises:
            StoreUnavailable: the store did not answer (sign-ins then fail closed).
        """
        if not self.enabled:
            return False
        cookie = self.verify(value, email)
        if cookie is None:
            return False
        # Counted before the password is checked, atomically: concurrent guesses with
        # one cookie cannot all slip under the count.
        ttl = max(1.0, cookie.expires_at - self.clock())
        used = await self.store.incr(f"device-signins:{cookie.nonce}", ttl=ttl)
        return used <= self.attempts


def _derive(secret: str) -> bytes:
    """A key of its own for device cookies (the same secret signs access tokens,
    refresh tokens and page cursors)."""
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def _mac(key: bytes, email: str, nonce: str, expires_at: int) -> str:
    message = b"\x00".join((email.encode(), nonce.encode(), str(expires_at).encode()))
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
