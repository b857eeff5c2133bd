"""create the job queue

Revision ID: 0002
Revises: 0001
Create Date: the project's creation

The background jobs' tables, functions and types on PostgreSQL (on SQLite the jobs
live in the app's process: nothing to create).
"""

from __future__ import annotations

from collections.abc import Sequence

from stackkit.jobs.schema import create_queue_tables, drop_queue_tables

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_queue_tables()


def downgrade() -> None:
    drop_queue_tables()
