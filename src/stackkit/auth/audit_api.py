"""Reading the audit log over HTTP: `audit_controllers(auth)` (`create_app` adds them).

| route | does |
|---|---|
| `GET /api/auth/audit` | the signed-in user's own events, newest first: `{items, next_cursor}` |
| `GET /api/admin/audit` | every event, newest first, with filters (`AuditQuery`) |

The admins' route needs the admin role (403 for other users, 401 without a token).
Both are read-only: no route writes, changes or deletes an event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request

from stackkit.auth.api import signed_in_user
from stackkit.auth.audit import AUDIT_EVENTS, AuditEntry, AuditLog, user_id_from
from stackkit.auth.config import Auth
from stackkit.db.model import MAX_ID
from stackkit.http.routing import Controller

__all__ = ["AUDIT_PREFIX", "audit_controllers"]

AUDIT_PREFIX = "/api/admin/audit"
MAX_EVENT_ID = 2**63 - 1


class AuditEventOut(BaseModel):
    id: int
    event: str = Field(description="What happened: one of the names in docs/auth.md.")
    description: str = Field(description="The event, in a sentence.")
    created_at: datetime
    actor_id: int | None = Field(description="Who acted; null: nobody signed in.")
    subject_id: int | None = Field(description="Whose account it is about; null: none.")
    address: str | None = Field(description="The client's address.")
    user_agent: str | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the older events.")


class OwnAuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(20, ge=1, le=100, description="Page size.")
    cursor: int | None = Field(
        None, ge=1, le=MAX_EVENT_ID, description="next_cursor of the previous page."
    )


class AuditQuery(OwnAuditQuery):
    limit: int = Field(50, ge=1, le=200, description="Page size.")
    event: str | None = Field(
        None, max_length=400, description="Only these events: names, comma-separated."
    )
    actor_id: int | None = Field(None, ge=1, le=MAX_ID, description="Only those this user did.")
    subject_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="Only those about this user's account."
    )
    address: str | None = Field(None, max_length=64, description="Only those from this address.")
    since: datetime | None = Field(None, description="Only those at or after this time.")
    until: datetime | None = Field(None, description="Only those before this time.")

    @field_validator("event")
    @classmethod
    def _known_events(cls, value: str | None) -> str | None:
        if value is None:
            return None
        unknown = sorted(_event_names(value) - set(AUDIT_EVENTS))
        if unknown:
            raise ValueError(f"unknown events: {', '.join(unknown)}")
        return value

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (like 2026-01-31T12:00:00Z)")
        return value


def _event_names(value: str) -> frozenset[str]:
    """`signin.failed, signin.throttled` -> the names, as a set."""
    return frozenset(name.strip() for name in value.split(","))


def _page(entries: list[AuditEntry], limit: int) -> dict[str, Any]:
    items = entries[:limit]
    return {
        "items": [
            {**vars(entry), "description": AUDIT_EVENTS.get(entry.event, "")} for entry in items
        ],
        "next_cursor": str(items[-1].id) if len(entries) > limit else None,
    }


def audit_controllers(auth: Auth) -> list[Controller]:
    """The users' and the admins' audit routes, for `create_app`."""
    own = Controller(auth.config.prefix, tags=["auth"], cache_ttl=0)
    admin = Controller(AUDIT_PREFIX, tags=["audit"], cache_ttl=0)

    @own.get("/audit", name="own_audit_events", response=AuditPage)
    async def own_events(request: Request, query: OwnAuditQuery) -> dict[str, Any]:
        """The security events of your account, newest first."""
        user_id = user_id_from(signed_in_user(request).id)
        entries = await AuditLog(request.app.state.database).page(
            subject_id=user_id if user_id is not None else -1,
            before=query.cursor,
            limit=query.limit + 1,
        )
        return _page(entries, query.limit)

    @admin.get("", name="admin_audit_events", response=AuditPage, roles=[auth.config.admin_role])
    async def all_events(request: Request, query: AuditQuery) -> dict[str, Any]:
        """The audit log, newest first, narrowed by the filters given."""
        events = _event_names(query.event) if query.event else None
        entries = await AuditLog(request.app.state.database).page(
            subject_id=query.subject_id,
            actor_id=query.actor_id,
            events=events,
            address=query.address,
            since=query.since,
            until=query.until,
            before=query.cursor,
            limit=query.limit + 1,
        )
        return _page(entries, query.limit)

    return [own, admin]
