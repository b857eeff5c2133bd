"""Structured logging that carries the id of the request being served.

`RequestIdMiddleware` puts the id in `current_request_id`; `RequestIdFilter`
copies it onto every log record, so any logger (stackkit's, SQLAlchemy's, the
app's own) can be correlated with the response's `X-Request-ID` header.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic_core import to_json

__all__ = [
    "JsonFormatter",
    "RequestIdFilter",
    "ThrottledWarning",
    "configure_logging",
    "current_request_id",
]

current_request_id: ContextVar[str | None] = ContextVar("stackkit_request_id", default=None)

_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({})))
_HANDLER_NAME = "stackkit"


class ThrottledWarning:
    """A warning logged at most once per `interval` seconds.

    An outage (Redis away) would otherwise log one line per request, burying the
    log at the moment someone reads it.
    """

    def __init__(self, logger: logging.Logger, message: str, *, interval: float = 60.0) -> None:
        self.logger = logger
        self.message = message
        self.interval = interval
        self._last = float("-inf")

    def __call__(self, *args: object) -> None:
        """Log `message % args`, unless it was logged less than `interval` seconds ago."""
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.logger.warning(self.message, *args)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to each record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return to_json(entry, fallback=str).decode()


class TextFormatter(logging.Formatter):
    """Human-readable lines. Line breaks in a message (a path can carry %0d%0a) are
    escaped, so that no request can forge a log line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        return super().formatMessage(record).replace("\r", "\\r").replace("\n", "\\n")


def configure_logging(
    level: str = "INFO", log_format: Literal["json", "text"] = "text", *, stream: Any = None
) -> None:
    """Send the `stackkit` loggers to `stream` (stderr) in the given format.

    Idempotent: calling it again replaces the handler it installed before, so
    creating several apps in one process does not duplicate log lines.
    """
    logger = logging.getLogger("stackkit")
    logger.setLevel(level)
    for existing in list(logger.handlers):
        if existing.get_name() == _HANDLER_NAME:
            logger.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.propagate = False
