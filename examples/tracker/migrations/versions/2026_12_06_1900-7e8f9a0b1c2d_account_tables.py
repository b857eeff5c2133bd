"""account tables

Revision ID: 7e8f9a0b1c2d
Revises: 5c1d2e3f4a5b
Create Date: 2026-12-06 19:00:00

The tables the auth building block keeps for itself: the audit log
(`stackkit_audit_events`) and the verified addresses (`stackkit_email_verifications`).
"""

from __future__ import annotations

from collections.abc import Sequence

from stackkit.auth.tables import (
    create_audit_table,
    create_email_verification_table,
    drop_audit_table,
    drop_email_verification_table,
)

revision: str = "7e8f9a0b1c2d"
down_revision: str | Sequence[str] | None = "5c1d2e3f4a5b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_table()
    create_email_verification_table()


def downgrade() -> None:
    drop_email_verification_table()
    drop_audit_table()
