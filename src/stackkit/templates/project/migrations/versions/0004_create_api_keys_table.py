"""create the API keys table

Revision ID: 0004
Revises: 0003
Create Date: the project's creation

The users' API keys (`stackkit.auth.api_keys`): each key's public id, its owner, the
SHA-256 of its secret, its roles, its expiry and its last use.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stackkit_api_keys",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_digest", sa.String(length=64), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stackkit_api_keys")),
    )
    with op.batch_alter_table("stackkit_api_keys", schema=None) as batch_op:
        batch_op.create_index("ix_stackkit_api_keys_user_id", ["user_id"])


def downgrade() -> None:
    op.drop_table("stackkit_api_keys")
