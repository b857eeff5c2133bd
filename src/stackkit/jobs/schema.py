"""The queue's tables, functions and types on PostgreSQL, for the app's migrations.

A generated project creates them in its revision `0002` (`create_queue_tables()` in
`upgrade()`); `JobQueue.install()` applies the same SQL to a database without
migrations. On SQLite there is nothing to create: the jobs live in the process.

    def upgrade() -> None:
        create_queue_tables()

    def downgrade() -> None:
        drop_queue_tables()
"""

from __future__ import annotations

from procrastinate.schema import SchemaManager

__all__ = [
    "ERRORS_TABLE",
    "create_queue_tables",
    "drop_queue_tables",
    "queue_schema",
]

ERRORS_TABLE = "stackkit_job_errors"
"""The last error of each job that failed a run (procrastinate keeps none)."""

_PREFIX = "procrastinate_"
_ERRORS_DDL = f"""
CREATE TABLE {ERRORS_TABLE} (
    job_id bigint PRIMARY KEY REFERENCES procrastinate_jobs (id) ON DELETE CASCADE,
    error text NOT NULL,
    failed_at timestamp with time zone NOT NULL DEFAULT now()
);
"""
# Every object of procrastinate's schema starts with its prefix; the functions are
# dropped by name, whatever their versions and arguments.
_DROP = """
DROP TABLE IF EXISTS stackkit_job_errors, procrastinate_events, procrastinate_periodic_defers,
    procrastinate_jobs, procrastinate_workers CASCADE;
DO $$
DECLARE found record;
BEGIN
    FOR found IN
        SELECT p.oid::regprocedure AS signature FROM pg_proc p
        WHERE p.proname LIKE 'procrastinate\\_%' AND p.pronamespace = current_schema()::regnamespace
    LOOP
        EXECUTE 'DROP FUNCTION ' || found.signature || ' CASCADE';
    END LOOP;
    FOR found IN
        SELECT t.typname FROM pg_type t
        WHERE t.typname LIKE 'procrastinate\\_%' AND t.typtype IN ('e', 'c')
            AND t.typnamespace = current_schema()::regnamespace
    LOOP
        EXECUTE 'DROP TYPE ' || quote_ident(found.typname) || ' CASCADE';
    END LOOP;
END $$;
"""


def queue_schema() -> str:
    """The SQL that creates the queue: procrastinate's schema, then stackkit's table."""
    return SchemaManager.get_schema() + _ERRORS_DDL


def create_queue_tables() -> None:
    """In a revision's `upgrade()`: create the queue (PostgreSQL; nothing on SQLite)."""
    from alembic import op  # here: an app that only runs jobs need not load Alembic

    if op.get_context().dialect.name == "postgresql":
        op.execute(queue_schema())


def drop_queue_tables() -> None:
    """In a revision's `downgrade()`: drop the queue and every job it held."""
    from alembic import op

    if op.get_context().dialect.name == "postgresql":
        op.execute(_DROP)
