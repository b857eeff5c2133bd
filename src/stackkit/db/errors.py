"""Errors of the data layer: plain exceptions the HTTP edge renders as problems.

Repositories raise the plain data errors (`StaleVersion`); services turn them
into domain errors (`NotFoundError`, `ConflictError`, `PreconditionFailedError`,
from `stackkit.errors`, re-exported here), and `Database.session()` turns a
database that does not answer into `DatabaseUnavailable`.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from stackkit.errors import ConflictError, NotFoundError, PreconditionFailedError, ProblemError

__all__ = [
    "ConflictError",
    "DatabaseUnavailable",
    "InvalidValueError",
    "NotFoundError",
    "PreconditionFailedError",
    "ReadOnlyUnitError",
    "StaleVersion",
    "is_read_only_violation",
    "is_unavailable",
]

# SQLSTATE classes and codes that mean "the server is not there (now)", as opposed to
# "this statement is wrong": connection exceptions, shutdowns, cancelled by timeout.
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "57P")
_STATEMENT_TIMEOUT_SQLSTATE = "57014"
_READ_ONLY_SQLSTATE = "25006"


class InvalidValueError(ProblemError):
    """422: the database refused a value that does not fit its column (a number out of
    range, a text too long), which the request's model let through."""

    def __init__(self) -> None:
        super().__init__(
            422,
            "A value does not fit its column (a number out of range, or a text too long).",
        )


class DatabaseUnavailable(ProblemError):
    """503: the database did not answer in time; the client may retry."""

    def __init__(self, detail: str = "The database is not available; retry shortly.") -> None:
        super().__init__(503, detail, headers={"Retry-After": "5"})


class ReadOnlyUnitError(RuntimeError):
    """A write was attempted in a unit of work opened with `read_only=True`.

    A programming error: open the unit with `db.session()` to write.
    """


class StaleVersion(Exception):
    """An update or delete named a version that is no longer the row's current one."""

    def __init__(self, current_version: int) -> None:
        self.current_version = current_version
        super().__init__(f"stale version; current is {current_version}")


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database is unreachable or overloaded, not that a
    statement is wrong: then the right answer is 503, and the pool recovers by itself."""
    if isinstance(error, PoolTimeoutError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    sqlstate = str(getattr(error.orig, "sqlstate", None) or "")
    if sqlstate:
        return sqlstate.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES) or (
            sqlstate == _STATEMENT_TIMEOUT_SQLSTATE
        )
    if not isinstance(error, OperationalError):
        return False
    # psycopg reports a failed or timed-out connection attempt as an OperationalError
    # without a SQLSTATE; SQLite, a lock held past busy_timeout or a missing file.
    if type(error.orig).__module__.startswith("psycopg"):
        return True
    message = str(error.orig).lower()
    return "database is locked" in message or "unable to open database" in message


def is_read_only_violation(error: DBAPIError) -> bool:
    """A write the database refused because the unit is read-only (raw SQL included)."""
    if getattr(error.orig, "sqlstate", None) == _READ_ONLY_SQLSTATE:
        return True
    return "attempt to write a readonly database" in str(error.orig).lower()
