"""create the account tables

Revision ID: 0003
Revises: 0002
Create Date: the project's creation

The tables the auth building block keeps for itself (`stackkit.auth.tables`): the
audit log of security events, and the address each user verified.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stackkit_audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stackkit_audit_events")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("stackkit_audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_stackkit_audit_events_actor_id_id", ["actor_id", "id"])
        batch_op.create_index("ix_stackkit_audit_events_created_at", ["created_at"])
        batch_op.create_index("ix_stackkit_audit_events_event_id", ["event", "id"])
        batch_op.create_index("ix_stackkit_audit_events_subject_id_id", ["subject_id", "id"])
    op.create_table(
        "stackkit_email_verifications",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("email_digest", sa.String(length=64), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_stackkit_email_verifications")),
    )


def downgrade() -> None:
    op.drop_table("stackkit_email_verifications")
    op.drop_table("stackkit_audit_events")
