"""api keys

Revision ID: 8f9a0b1c2d3e
Revises: 7e8f9a0b1c2d
Create Date: 2026-12-07 19:00:00

The users' API keys (`stackkit_api_keys`), a table the auth building block keeps.
"""

from __future__ import annotations

from collections.abc import Sequence

from stackkit.auth.tables import create_api_key_table, drop_api_key_table

revision: str = "8f9a0b1c2d3e"
down_revision: str | Sequence[str] | None = "7e8f9a0b1c2d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_api_key_table()


def downgrade() -> None:
    drop_api_key_table()
