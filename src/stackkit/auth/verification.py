"""`EmailVerifications`: which users proved they read their email address.

Kept in `stackkit_email_verifications` (`stackkit.auth.tables`), not on the user row:
an app's user table needs no new column, and an app that does not verify addresses
(`STACKKIT_EMAIL_VERIFICATION` off, the default) never reads it. A row holds the
SHA-256 of the address verified, in its normal form: when the account's email
changes, it no longer matches, and the new address is unverified until its link is
opened.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from stackkit.auth.emails import InvalidEmail, normalize_email
from stackkit.auth.tables import email_verifications
from stackkit.db.model import utcnow

if TYPE_CHECKING:
    from stackkit.db.database import Database

__all__ = ["EmailVerifications", "email_digest"]


def email_digest(email: str) -> str:
    """The SHA-256 (hex) of `email`'s normal form."""
    with contextlib.suppress(InvalidEmail):
        email = normalize_email(email)  # a stored email may predate the rule
    return hashlib.sha256(email.encode()).hexdigest()


class EmailVerifications:
    """Read and record verified addresses.

    Args:
        database: the app's database, which holds `stackkit_email_verifications`.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    async def verified_at(self, user_id: int, email: str) -> datetime | None:
        """When the user verified `email`, if it is the address they verified last."""
        table = email_verifications.c
        query = select(table.verified_at).where(
            table.user_id == user_id, table.email_digest == email_digest(email)
        )
        async with self.database.session(read_only=True) as session:
            found: datetime | None = (await session.execute(query)).scalar_one_or_none()
        return found

    async def mark(self, user_id: int, email: str) -> datetime:
        """Record that the user read `email` (replacing an address verified before)."""
        now = utcnow()
        table = email_verifications
        try:
            async with self.database.session() as session:
                await session.execute(delete(table).where(table.c.user_id == user_id))
                await session.execute(
                    insert(table).values(
                        user_id=user_id, email_digest=email_digest(email), verified_at=now
                    )
                )
        except IntegrityError:
            # Another link of the user's, opened at the same moment, recorded it first.
            found = await self.verified_at(user_id, email)
            if found is None:
                raise
            return found
        return now

    async def forget(self, user_id: int) -> None:
        """Drop the user's row (their account is deleted)."""
        async with self.database.session() as session:
            table = email_verifications
            await session.execute(delete(table).where(table.c.user_id == user_id))
