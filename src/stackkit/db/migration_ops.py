"""Operations for a project's own migration scripts.

`never_reuse_ids` brings a table made before stackkit gave SQLite tables
`AUTOINCREMENT` up to date:

    from stackkit.db.migration_ops import never_reuse_ids

    def upgrade() -> None:
        never_reuse_ids("users", "notes")

Without `AUTOINCREMENT`, SQLite gives a new row the highest id that was deleted:
a new account would take the deleted account's id, and with it anything kept
under that id. PostgreSQL never reuses a sequence's values, so this does
nothing there.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

__all__ = ["never_reuse_ids"]


def never_reuse_ids(*tables: str) -> None:
    """On SQLite, rebuild each table with `AUTOINCREMENT` (rows, indexes and constraints
    kept; tables that have it already are left alone); elsewhere, nothing."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table in tables:
        sql = bind.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": table},
        ).scalar_one_or_none()
        if sql is None:
            raise ValueError(f"no table {table!r} in this database")
        if "AUTOINCREMENT" in sql.upper():
            continue
        # Migrations run with SQLite's foreign keys off (Alembic's own connection), so
        # dropping the old table on the way cascades to nothing.
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
