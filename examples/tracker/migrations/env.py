"""Alembic runs this file for every migration command (`stackkit db upgrade`, `alembic upgrade`).

stackkit does the work: see its docs/migrations.md. Pass `url=` to run_migrations
to migrate another database than the app's DATABASE_URL.
"""

from stackkit.db.migrations import run_migrations

from tracker.models import Model

run_migrations(Model.metadata)
