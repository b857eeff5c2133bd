"""ids never reused

Revision ID: 5c1d2e3f4a5b
Revises: a09ee921c8c8
Create Date: 2026-12-04 19:00:00

Tables made before stackkit gave SQLite tables AUTOINCREMENT: rebuild them so
that a deleted row's id (a deleted account's) is never handed out again.
"""

from __future__ import annotations

from collections.abc import Sequence

from stackkit.db.migration_ops import never_reuse_ids

revision: str = "5c1d2e3f4a5b"
down_revision: str | Sequence[str] | None = "a09ee921c8c8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    never_reuse_ids("users", "projects", "tasks")


def downgrade() -> None:
    pass  # AUTOINCREMENT does no harm to older code
