"""Turning an exception into the one line a command prints."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from stackkit.db.errors import DatabaseUnavailable

__all__ = ["driver_error", "first_line"]


def driver_error(error: BaseException) -> BaseException:
    """The error worth showing: the driver's own (without SQLAlchemy's SQL and links),
    and what a `DatabaseUnavailable` stands for."""
    if isinstance(error, DatabaseUnavailable) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    return error


def first_line(error: BaseException) -> str:
    """The first line of the error's message, or its type when it has none."""
    error = driver_error(error)
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__
