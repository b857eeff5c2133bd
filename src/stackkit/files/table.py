"""`stackkit_files`: one row per uploaded file, whichever resource it belongs to.

Like the account tables, it lives in a `MetaData` of its own, left alone by
autogenerate (its name starts with `stackkit_`). A generated project creates it in
revision `0006`; an app with migrations of its own calls `create_file_table()` in a
revision's `upgrade()`, and an app without migrations `create_file_tables(engine)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table

from stackkit.db.model import NAMING_CONVENTION, UTCDateTime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["create_file_table", "create_file_tables", "drop_file_table", "files", "files_metadata"]

files_metadata = MetaData(naming_convention=NAMING_CONVENTION)

files = Table(
    "stackkit_files",
    files_metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_id", Integer(), nullable=False),
    Column("resource", String(100), nullable=False),
    Column("field", String(100), nullable=False),
    Column("name", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger(), nullable=False),
    Column("state", String(10), nullable=False),
    Column("thumbnail", Boolean(), nullable=False),
    Column("row_id", Integer(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Index("ix_stackkit_files_resource_row_id", "resource", "row_id"),
    Index("ix_stackkit_files_expires_at", "expires_at"),
)
"""Uploaded files: who uploaded each (`owner_id`), for which resource's field, its
name as uploaded, its type as sniffed, its size, whether its bytes are in (`state`:
`pending`, `receiving` or `ready`) and it has a thumbnail, the row it belongs to
(`row_id`: none until a row refers to it, a negative token while one is being
written) and, until then, when it is forgotten (`expires_at`)."""


def create_file_table() -> None:
    """In a revision's `upgrade()`: create `stackkit_files` and its indexes."""
    from alembic import op  # here: an app that only serves need not load Alembic

    op.create_table(files.name, *(column._copy() for column in files.columns))
    for index in files.indexes:
        op.create_index(index.name, files.name, [c.name for c in index.columns])


def drop_file_table() -> None:
    """In a revision's `downgrade()`: drop it (the stored bytes stay where they are)."""
    from alembic import op

    op.drop_table(files.name)


async def create_file_tables(engine: AsyncEngine) -> None:
    """Create `stackkit_files` if it does not exist, without migrations (tests, scripts)."""
    async with engine.begin() as connection:
        await connection.run_sync(files_metadata.create_all)
