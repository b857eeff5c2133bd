"""`AuditLog`: the security events of accounts, kept in the app's database.

Each event is a row of `stackkit_audit_events` (`stackkit.auth.tables`): its name,
who acted (`actor_id`: the signed-in user, an admin; None for nobody signed in),
whose account it is about (`subject_id`; None for a sign-in to an unknown email),
the client's address and user agent, the time, and a few details (the session
ended, the roles before and after). The auth routes record them; admins read them
at `/api/admin/audit`, users their own at `/api/auth/audit`
(`stackkit.auth.audit_api`). Nothing in the API writes or changes a row.

Rows older than `STACKKIT_AUDIT_RETENTION_DAYS` are deleted by a daily job of the
app's queue (`audit_clean_up_job`), or by `AuditLog.purge`.

A write that fails (the table is missing: the app's migrations have not run) is
logged at error level with the whole event, and the request goes on: a sign-in
does not fail for want of its audit row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from stackkit.auth.tables import audit_events
from stackkit.db.model import utcnow

if TYPE_CHECKING:
    from stackkit.db.database import Database
    from stackkit.jobs import Job, JobQueue

__all__ = ["AUDIT_EVENTS", "AuditEntry", "AuditLog", "audit_clean_up_job", "user_id_from"]

logger = logging.getLogger("stackkit.auth.audit")

AUDIT_EVENTS: Mapping[str, str] = {
    "signin.succeeded": "Signed in.",
    "signin.failed": "A sign-in with a wrong password, or to a disabled account.",
    "signin.throttled": "A sign-in refused: too many attempts on the account.",
    "refresh.reused": "A spent refresh token was used again; its session ended.",
    "session.ended": "A session ended (signed out, ended from the list of sessions).",
    "sessions.ended": "Every session ended (signed out everywhere).",
    "password.changed": "The password was changed.",
    "password.reset": "The password was set with a reset link.",
    "email.verified": "The email address was verified.",
    "email.changed": "The email address was changed.",
    "user.registered": "The account was created.",
    "user.roles_changed": "An admin changed the account's roles.",
    "user.disabled": "An admin disabled the account.",
    "user.enabled": "An admin enabled the account again.",
    "user.deleted": "An admin deleted the account.",
    "api_key.created": "An API key was made.",
    "api_key.first_used": "An API key was used for the first time.",
    "api_key.revoked": "An API key was revoked.",
    "two_factor.enabled": "Two-factor sign-in was turned on.",
    "two_factor.disabled": "Two-factor sign-in was turned off.",
    "two_factor.recovery_code_used": "A recovery code was used.",
    "two_factor.recovery_codes_made": "New recovery codes were made; the old ones stopped.",
}
"""Every event's name, with what it means (the SPA and the docs show these)."""

_CLEAN_UP_JOB = "stackkit.auth.clean_audit_log"


def user_id_from(identity: object) -> int | None:
    """A principal's or a session's user id (text) as a row id; None when it is not one
    (another backend's principal with ids of its own)."""
    text = str(identity)
    return int(text) if text.isdigit() and len(text) < 12 else None


@dataclass(frozen=True)
class AuditEntry:
    """One event of the log."""

    id: int
    event: str
    created_at: datetime
    actor_id: int | None
    subject_id: int | None
    address: str | None
    user_agent: str | None
    details: dict[str, Any]


class AuditLog:
    """Record and read security events.

    Args:
        database: the app's database, which holds `stackkit_audit_events`.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    async def record(
        self,
        event: str,
        *,
        subject_id: int | None,
        actor_id: int | None = None,
        address: str | None = None,
        user_agent: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Add an event. A failed write is logged (with the event), never raised.

        Raises:
            ValueError: `event` is not one of `AUDIT_EVENTS`.
        """
        if event not in AUDIT_EVENTS:
            raise ValueError(f"unknown audit event {event!r}: see AUDIT_EVENTS")
        row = {
            "event": event,
            "created_at": utcnow(),
            "actor_id": actor_id,
            "subject_id": subject_id,
            "address": address[:64] if address else None,
            "user_agent": user_agent[:200] if user_agent else None,
            "details": dict(details or {}),
        }
        try:
            async with self.database.session() as session:
                await session.execute(insert(audit_events).values(**row))
        except (SQLAlchemyError, OSError, ConnectionError) as error:
            logger.error(
                "Audit event not stored (%s): %s",
                error.__class__.__name__,
                json.dumps(row, default=str, sort_keys=True),
            )

    async def page(
        self,
        *,
        subject_id: int | None = None,
        actor_id: int | None = None,
        events: frozenset[str] | None = None,
        address: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """Events newest first, each filter narrowing; `before`: only ids below it
        (the last id of the previous page)."""
        table = audit_events.c
        query = select(audit_events).order_by(table.id.desc()).limit(limit)
        if subject_id is not None:
            query = query.where(table.subject_id == subject_id)
        if actor_id is not None:
            query = query.where(table.actor_id == actor_id)
        if events:
            query = query.where(table.event.in_(sorted(events)))
        if address is not None:
            query = query.where(table.address == address)
        if since is not None:
            query = query.where(table.created_at >= since)
        if until is not None:
            query = query.where(table.created_at < until)
        if before is not None:
            query = query.where(table.id < before)
        async with self.database.session(read_only=True) as session:
            rows = (await session.execute(query)).mappings().all()
        return [AuditEntry(**row) for row in rows]

    async def purge(self, older_than: timedelta) -> int:
        """Delete the events older than `older_than`; how many went."""
        async with self.database.session() as session:
            result: Any = await session.execute(
                delete(audit_events).where(audit_events.c.created_at < utcnow() - older_than)
            )
        return int(result.rowcount or 0)


def audit_clean_up_job(jobs: JobQueue) -> Job[Any]:
    """The queue's daily job that deletes the events older than the app's
    `audit_retention_days` (0: it keeps them all). Declared once per queue."""
    declared = jobs.jobs.get(_CLEAN_UP_JOB)
    if declared is not None:
        return declared

    @jobs.periodic("23 4 * * *")
    @jobs.job(name=_CLEAN_UP_JOB, retries=3, backoff=60)
    async def clean_audit_log(timestamp: int) -> None:
        days = jobs.state.settings.audit_retention_days
        if days:
            deleted = await AuditLog(jobs.state.database).purge(timedelta(days=days))
            logger.info("Deleted %d audit events over %d days old", deleted, days)

    return clean_audit_log
