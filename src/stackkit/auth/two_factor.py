"""Two-factor sign-in with time-based one-time passwords (TOTP, RFC 6238), by pyotp.

A user enrols in two steps: `start` makes a secret (160 random bits) and the
`otpauth://` address an authenticator app reads from a QR code; `enable` checks a
first code from the app, turns two-factor sign-in on, and gives 10 recovery codes.
From then on, a sign-in needs the password and then a code (`verify`) or one of the
recovery codes (`use_recovery_code`).

- **Secrets** are stored encrypted (Fernet, under a key derived from `SECRET_KEY`;
  its fallbacks decrypt, and a secret read with a fallback is encrypted anew), so
  that a copy of the database alone yields no codes.
- **A code works once.** The time step of the last code accepted is kept, and a
  code is accepted only for a later step (`UPDATE ... WHERE last_step < step`): a
  code seen by someone else is no use to them, even within its 30 seconds. Codes
  of the step before and after the current one are accepted, for clocks that
  drift.
- **Recovery codes** are 10 random codes of 10 letters and digits, shown once,
  kept as SHA-256 digests; each works once (a `DELETE` that must find it).
  Making new ones deletes the old.

Kept in `stackkit_two_factor` and `stackkit_recovery_codes` (`stackkit.auth.tables`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyotp
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pyotp.exceptions import OTPVerificationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from stackkit.auth.tables import recovery_codes, two_factor
from stackkit.db.model import utcnow
from stackkit.logs import ThrottledWarning

if TYPE_CHECKING:
    from sqlalchemy import Row
    from sqlalchemy.ext.asyncio import AsyncSession

    from stackkit.db.database import Database

__all__ = ["RECOVERY_CODES", "Enrolment", "TwoFactor", "TwoFactorStatus"]

logger = logging.getLogger("stackkit.auth")

RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_RECOVERY_LENGTH = 10
_PURPOSE = b"stackkit totp secrets v1"
_MAX_CODE_LENGTH = 32


@dataclass(frozen=True)
class Enrolment:
    """A secret made for a user who has not confirmed it yet."""

    secret: str
    """Base32, as authenticator apps take it typed in."""
    uri: str
    """`otpauth://totp/...`: what the QR code holds."""


@dataclass(frozen=True)
class TwoFactorStatus:
    enabled: bool
    enabled_at: datetime | None
    recovery_codes_left: int


class TwoFactor:
    """Enrol, check and turn off users' second factor.

    Args:
        database: holds the two tables.
        secret_keys: the app's secret keys, the current one first: the first
            encrypts, each decrypts.
        issuer: the app's name, shown by authenticator apps beside the account.
        clock: Unix time in seconds; tests pass their own.
    """

    def __init__(
        self,
        database: Database,
        *,
        secret_keys: Sequence[str],
        issuer: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret_keys:
            raise ValueError("two-factor sign-in needs a secret key to encrypt its secrets")
        self.database = database
        self.issuer = issuer
        self.clock = clock
        self._fernets = [Fernet(_derive(key)) for key in secret_keys]
        self._warn = ThrottledWarning(logger, "Two-factor sign-in cannot be read: %s")
        self._cipher = MultiFernet(self._fernets)

    async def status(self, user_id: int) -> TwoFactorStatus:
        async with self.database.session(read_only=True) as session:
            enabled_at = (
                await session.execute(
                    select(two_factor.c.enabled_at).where(two_factor.c.user_id == user_id)
                )
            ).scalar_one_or_none()
            left = (
                await session.execute(
                    select(func.count())
                    .select_from(recovery_codes)
                    .where(recovery_codes.c.user_id == user_id)
                )
            ).scalar_one()
        return TwoFactorStatus(enabled_at is not None, enabled_at, int(left) if enabled_at else 0)

    async def is_enabled(self, user_id: int) -> bool:
        """Whether the user's sign-ins ask for a code: one query, made at each sign-in.
        False when the tables are missing (the migrations have not run: nobody can
        have turned it on), which is logged."""
        query = select(two_factor.c.enabled_at).where(two_factor.c.user_id == user_id)
        try:
            async with self.database.session(read_only=True) as session:
                enabled_at = (await session.execute(query)).scalar_one_or_none()
        except SQLAlchemyError as error:
            self._warn(error)
            return False
        return enabled_at is not None

    async def start(self, user_id: int, email: str) -> Enrolment | None:
        """A new secret for `user_id`, replacing one not confirmed yet; None when two-factor
        sign-in is on already (turn it off first)."""
        secret = pyotp.random_base32(32)
        table = two_factor.c
        async with self.database.session() as session:
            enabled = (
                await session.execute(
                    select(table.enabled_at).where(table.user_id == user_id).with_for_update()
                )
            ).first()
            if enabled is not None and enabled.enabled_at is not None:
                return None
            await session.execute(delete(two_factor).where(table.user_id == user_id))
            await session.execute(
                insert(two_factor).values(
                    user_id=user_id,
                    secret=self._encrypt(secret),
                    created_at=utcnow(),
                    enabled_at=None,
                    last_step=None,
                )
            )
        uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=self.issuer)
        return Enrolment(secret, uri)

    async def enable(self, user_id: int, code: str) -> list[str] | None:
        """Turn two-factor sign-in on with a first code of the secret `start` made; its
        recovery codes. None when the code does not match (or nothing was started)."""
        table = two_factor.c
        async with self.database.session() as session:
            row = await _factor_of(session, user_id)
            if row is None or row.enabled_at is not None:
                return None
            step = self._matching_step(self._decrypt(row.secret), code)
            if step is None:
                return None
            changed = await session.execute(
                update(two_factor)
                .where(table.user_id == user_id, table.enabled_at.is_(None))
                .values(enabled_at=utcnow(), last_step=step)
            )
            if not getattr(changed, "rowcount", 0):
                return None
            return await self._replace_recovery_codes(session, user_id)

    async def verify(self, user_id: int, code: str) -> bool:
        """Whether `code` is the user's current one and was not used before (it is then
        spent). False when two-factor sign-in is off."""
        table = two_factor.c
        async with self.database.session() as session:
            row = await _factor_of(session, user_id)
            if row is None or row.enabled_at is None:
                return False
            try:
                secret = self._decrypt(row.secret)
            except ValueError as error:
                # Its key was retired too soon: the user signs in with a recovery code.
                logger.error("User %s: %s", user_id, error)
                return False
            step = self._matching_step(secret, code)
            if step is None:
                return False
            changed = await session.execute(
                update(two_factor)
                .where(
                    table.user_id == user_id,
                    table.enabled_at.is_not(None),
                    (table.last_step.is_(None)) | (table.last_step < step),
                )
                .values(last_step=step, secret=self._reencrypted(row.secret))
            )
            return bool(getattr(changed, "rowcount", 0))

    async def use_recovery_code(self, user_id: int, code: str) -> bool:
        """Whether `code` is one of the user's recovery codes (it is then spent)."""
        normal = _normal_recovery_code(code)
        if normal is None:
            return False
        table = recovery_codes.c
        async with self.database.session() as session:
            deleted = await session.execute(
                delete(recovery_codes).where(
                    table.user_id == user_id, table.digest == _digest(normal)
                )
            )
            return bool(getattr(deleted, "rowcount", 0))

    async def new_recovery_codes(self, user_id: int) -> list[str]:
        """Ten new recovery codes; the old ones stop working."""
        async with self.database.session() as session:
            return await self._replace_recovery_codes(session, user_id)

    async def disable(self, user_id: int) -> bool:
        """Turn two-factor sign-in off (the secret and the recovery codes are deleted);
        whether it was on."""
        async with self.database.session() as session:
            deleted = await session.execute(
                delete(two_factor).where(
                    two_factor.c.user_id == user_id, two_factor.c.enabled_at.is_not(None)
                )
            )
            await session.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
            return bool(getattr(deleted, "rowcount", 0))

    async def forget(self, user_id: int) -> None:
        """Delete everything of the user's (their account is deleted)."""
        async with self.database.session() as session:
            await session.execute(delete(two_factor).where(two_factor.c.user_id == user_id))
            await session.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))

    def _matching_step(self, secret: str, code: str) -> int | None:
        code = code.strip().replace(" ", "")
        if not code.isdigit() or len(code) != 6:
            return None
        try:
            return int(
                pyotp.TOTP(secret).verify_and_get_timecode(
                    code, for_time=self.clock(), valid_window=1
                )
            )
        except OTPVerificationError:
            return None

    async def _replace_recovery_codes(self, session: AsyncSession, user_id: int) -> list[str]:
        codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
        await session.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
        await session.execute(
            insert(recovery_codes),
            [{"user_id": user_id, "digest": _digest(code)} for code in codes],
        )
        return codes

    def _encrypt(self, secret: str) -> str:
        return self._fernets[0].encrypt(secret.encode()).decode()

    def _decrypt(self, stored: str) -> str:
        try:
            return self._cipher.decrypt(stored.encode()).decode()
        except InvalidToken:
            raise ValueError(
                "A two-factor secret cannot be decrypted: it was encrypted with a "
                "SECRET_KEY no longer in STACKKIT_SECRET_KEY_FALLBACKS."
            ) from None

    def _reencrypted(self, stored: str) -> str:
        """`stored` under the current key (unchanged when it is already)."""
        try:
            self._fernets[0].decrypt(stored.encode())
        except InvalidToken:
            return self._cipher.rotate(stored.encode()).decode()
        return stored


async def _factor_of(session: AsyncSession, user_id: int) -> Row[Any, Any] | None:
    """The user's secret (encrypted) and when it was enabled, if they have one."""
    table = two_factor.c
    query = select(table.secret, table.enabled_at).where(table.user_id == user_id)
    return (await session.execute(query)).first()


def _derive(secret: str) -> bytes:
    digest = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest)


def _new_recovery_code() -> str:
    letters = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return f"{letters[:5]}-{letters[5:]}"


def _normal_recovery_code(code: str) -> str | None:
    """The code as it was made (`abcde-fghjk`), from what a user typed; None when it
    cannot be one."""
    if len(code) > _MAX_CODE_LENGTH:
        return None
    letters = "".join(c for c in code.lower() if c not in " -")
    if len(letters) != _RECOVERY_LENGTH or any(c not in _RECOVERY_ALPHABET for c in letters):
        return None
    return f"{letters[:5]}-{letters[5:]}"


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
