"""The data layer: database engines and sessions."""

from stackkit.db.database import Database

__all__ = ["Database"]
