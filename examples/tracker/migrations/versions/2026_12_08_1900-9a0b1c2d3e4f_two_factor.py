"""two factor

Revision ID: 9a0b1c2d3e4f
Revises: 8f9a0b1c2d3e
Create Date: 2026-12-08 19:00:00

Two-factor sign-in's tables (`stackkit_two_factor`, `stackkit_recovery_codes`),
which the auth building block keeps.
"""

from __future__ import annotations

from collections.abc import Sequence

from stackkit.auth.tables import create_two_factor_tables, drop_two_factor_tables

revision: str = "9a0b1c2d3e4f"
down_revision: str | Sequence[str] | None = "8f9a0b1c2d3e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_two_factor_tables()


def downgrade() -> None:
    drop_two_factor_tables()
