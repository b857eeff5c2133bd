"""Turning an exception into the one line a command prints."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from stackkit.db.errors import DatabaseUnavailable

__all__ = ["driver_error", "one_line"]

# Lines SQLAlchemy adds to a message: the statement (it may hold values) and a link.
_NOISE = ("[SQL:", "[parameters:", "(Background on this error at:")


def driver_error(error: BaseException) -> BaseException:
    """The error worth showing: the driver's own (without SQLAlchemy's SQL and links),
    and what a `DatabaseUnavailable` stands for."""
    if isinstance(error, DatabaseUnavailable) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    return error


def one_line(error: BaseException, *, kind: bool = False) -> str:
    """The error's message on one line (its type's name when it has none), after
    `driver_error`; `kind`: prefixed with the type's name (`ValueError: ...`), for
    errors of a project's own code, where the type says what went wrong."""
    error = driver_error(error)
    lines = [line for line in str(error).splitlines() if not line.strip().startswith(_NOISE)]
    text = " ".join(" ".join(lines).split())
    name = type(error).__name__
    if not text:
        return name
    return f"{name}: {text}" if kind else text
