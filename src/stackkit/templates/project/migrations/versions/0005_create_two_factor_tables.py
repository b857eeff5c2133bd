"""create the two-factor tables

Revision ID: 0005
Revises: 0004
Create Date: the project's creation

Two-factor sign-in (`stackkit.auth.two_factor`): each user's TOTP secret,
encrypted, with the time step of the last code accepted; and the digests of the
recovery codes each user has left.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stackkit_two_factor",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("secret", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_stackkit_two_factor")),
    )
    op.create_table(
        "stackkit_recovery_codes",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "digest", name=op.f("pk_stackkit_recovery_codes")),
    )


def downgrade() -> None:
    op.drop_table("stackkit_recovery_codes")
    op.drop_table("stackkit_two_factor")
