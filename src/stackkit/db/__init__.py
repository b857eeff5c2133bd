"""The data layer: Database (engines, units of work, replicas) -> Repository -> Service."""

from __future__ import annotations

from typing import Any

from stackkit.db.changes import mark_changed
from stackkit.db.cursor import CursorCodec
from stackkit.db.database import Database, read_from_primary
from stackkit.db.errors import (
    ConflictError,
    DatabaseUnavailable,
    InvalidValueError,
    NotFoundError,
    PreconditionFailedError,
    ReadOnlyUnitError,
    StaleVersion,
)
from stackkit.db.migrations import MigrationError, run_migrations
from stackkit.db.model import Model, SoftDelete, UTCDateTime, owner_column, utcnow
from stackkit.db.repository import Page, Repository
from stackkit.db.service import Service
from stackkit.lazy import submodule

__all__ = [
    "ConflictError",
    "CursorCodec",
    "Database",
    "DatabaseUnavailable",
    "InvalidValueError",
    "MigrationError",
    "Model",
    "NotFoundError",
    "Page",
    "PreconditionFailedError",
    "ReadOnlyUnitError",
    "Repository",
    "Service",
    "SoftDelete",
    "StaleVersion",
    "UTCDateTime",
    "mark_changed",
    "owner_column",
    "read_from_primary",
    "run_migrations",
    "utcnow",
]


def __getattr__(name: str) -> Any:
    """A submodule not imported yet (`stackkit.db.<module>`), on first use."""
    return submodule(__name__, name)
