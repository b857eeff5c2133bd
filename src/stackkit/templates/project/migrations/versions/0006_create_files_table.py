"""create the files table

Revision ID: 0006
Revises: 0005
Create Date: the project's creation

The uploads of file fields (`stackkit.files`): who uploaded each, for which
resource's field, its name, its type as sniffed, its size, whether it has a
thumbnail, the row it belongs to and, until a row takes it, when it is forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stackkit_files",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("resource", sa.String(length=100), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("thumbnail", sa.Boolean(), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stackkit_files")),
    )
    with op.batch_alter_table("stackkit_files", schema=None) as batch_op:
        batch_op.create_index("ix_stackkit_files_resource_row_id", ["resource", "row_id"])
        batch_op.create_index("ix_stackkit_files_expires_at", ["expires_at"])


def downgrade() -> None:
    op.drop_table("stackkit_files")
