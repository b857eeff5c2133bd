"""The data layer: Database (engines, units of work, replicas) -> Repository -> Service."""

from __future__ import annotations

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
from stackkit.lazy import lazy_attributes

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


__getattr__ = lazy_attributes(__name__)  # a submodule, imported on first use
