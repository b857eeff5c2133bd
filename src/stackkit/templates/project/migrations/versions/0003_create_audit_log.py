"""create the audit log

Revision ID: 0003
Revises: 0002
Create Date: the project's creation

The security events of accounts (sign-ins, password changes, sessions ended, ...):
the table `stackkit_audit_events` of `stackkit.auth.tables`.
"""

from __future__ import annotations

from collections.abc import Sequence

from stackkit.auth.tables import create_audit_table, drop_audit_table

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_table()


def downgrade() -> None:
    drop_audit_table()
