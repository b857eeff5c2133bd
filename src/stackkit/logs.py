"""Structured logging that carries the id of the request being served.

`RequestIdMiddleware` puts the id in `current_request_id`; `RequestIdFilter`
copies it onto every log record, so any logger (stackkit's, SQLAlchemy's, the
app's own) can be correlated with the response's `X-Request-ID` header.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from collections import deque
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic_core import to_json

__all__ = [
    "AccessLog",
    "JsonFormatter",
    "RequestIdFilter",
    "ThrottledWarning",
    "configure_logging",
    "current_request_id",
]

current_request_id: ContextVar[str | None] = ContextVar("stackkit_request_id", default=None)

_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({})))
_HANDLER_NAME = "stackkit"
ACCESS_LOGGER = "stackkit.access"
# Text that goes into a JSON string as it is: printable ASCII but the quote and backslash.
# Access lines held for one turn of the event loop at most, and this many at most.
_PENDING_LINES = 64
# What a failed write of access lines is reported as.
_ACCESS_LINES = logging.makeLogRecord({"name": ACCESS_LOGGER, "msg": "access lines not written"})
_THREE_DIGITS = [f"{n:03d}" for n in range(1000)]
_PLAIN_JSON = re.compile(r"[ !#-\[\]-~]*\Z")


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


class StackkitHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure_logging` installs: a stream handler that can also write an
    access line itself (`AccessLog`), the same line its formatter would."""

    def __init__(self, stream: Any, log_format: Literal["json", "text"]) -> None:
        super().__init__(stream)
        self.log_format = log_format
        self.set_name(_HANDLER_NAME)
        self.addFilter(RequestIdFilter())
        self.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
        self._second = -1
        self._prefix = ""
        self._pending: deque[str] = deque()
        self._requests: dict[tuple[str, str], tuple[str, str]] = {}

    def write_access(
        self, request_id: str, method: str, path: str, status: int, size: int, duration_ms: float
    ) -> None:
        """Write one access line as `format()` would write its record, without making one:
        the line is built in one piece, with the clock's second cached, and the lines of
        one turn of the event loop are written together at its end (at once outside a
        loop, and before any other record), one system call for many requests."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            if self.log_format == "json":
                self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            else:
                self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        milliseconds = _THREE_DIGITS[int((now - second) * 1000)]
        try:
            head, members = self._requests[method, path]
        except KeyError:
            head, members = self._request_parts(method, path)
        if self.log_format == "json":
            # Each number is said twice (in the message, then as a member): made once.
            code, length, took = str(status), str(size), repr(duration_ms)
            line = (
                f'{{"time":"{self._prefix}.{milliseconds}+00:00","level":"info",'
                f'"logger":"{ACCESS_LOGGER}","message":"{head} {code} {length} B {took} ms",'
                f'"request_id":"{request_id}",{members},"status":{code},"bytes":{length},'
                f'"duration_ms":{took}}}\n'
            )
        else:
            line = (
                f"{self._prefix},{milliseconds} INFO    {ACCESS_LOGGER} [{request_id}]"
                f" {head} {status} {size} B {duration_ms} ms\n"
            )
        pending = self._pending
        pending.append(line)  # a deque: safe beside another thread's flush, without a lock
        if len(pending) >= _PENDING_LINES:
            self.flush()
        elif len(pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self._flush_soon)
            except RuntimeError:  # no event loop: nothing would flush it later
                self.flush()

    def _request_parts(self, method: str, path: str) -> tuple[str, str]:
        """How a line names the request: `GET /path`, escaped for the format, and (JSON)
        the method and path members; the latest 1,024 kept."""
        if self.log_format == "json":
            verb, where = _json_text(method), _json_text(path)
            parts = (f"{verb} {where}", f'"method":"{verb}","path":"{where}"')
        else:
            head = f"{method} {path}"
            parts = (head.replace("\r", "\\r").replace("\n", "\\n"), "")
        if len(self._requests) >= 1024:
            self._requests.clear()
        self._requests[method, path] = parts
        return parts

    def emit(self, record: logging.LogRecord) -> None:
        if self._pending:  # the access lines logged before this record go out first
            with self.lock:  # type: ignore[union-attr]
                self._write_pending()
        super().emit(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._pending:
                self._write_pending()
        super().flush()

    def _flush_soon(self) -> None:
        """`flush`, as the event loop's callback: a stream that fails is said, not
        raised into the loop."""
        try:
            self.flush()
        except Exception:
            self.handleError(_ACCESS_LINES)

    def _write_pending(self) -> None:
        """Write the access lines waiting (under the lock), in one call. A stream that
        fails is reported as `logging` reports it (on stderr), not raised into the app;
        the lines it refused are dropped."""
        pending = self._pending
        lines = "".join([pending.popleft() for _ in range(len(pending))])
        try:
            self.stream.write(lines)
            self.stream.flush()
        except Exception:
            self.handleError(_ACCESS_LINES)


class AccessLog:
    """One line per request on the `stackkit.access` logger, at INFO.

    While that logger goes only to the handler `configure_logging` installed (the
    usual case), the line is written straight to it: the same text as through the
    logging machinery, in about a tenth of the time. Once anything else listens (a
    handler or filter of the app's own, a level of its own on the handler, pytest's
    `caplog`), every line goes through `logging` as any other record.
    """

    def __init__(self) -> None:
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.parent = logging.getLogger(ACCESS_LOGGER.rpartition(".")[0])

    def __call__(
        self, request_id: str, method: str, path: str, status: int, size: int, duration_ms: float
    ) -> None:
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        handler = self._only_handler()
        if handler is not None:
            try:
                handler.write_access(request_id, method, path, status, size, duration_ms)
                return
            except Exception:  # noqa: S110 - the logging path reports it
                pass
        logger.info(
            "%s",
            access_message(method, path, status, size, duration_ms),
            extra={
                "method": method,
                "path": path,
                "status": status,
                "bytes": size,
                "duration_ms": duration_ms,
            },
        )

    def _only_handler(self) -> StackkitHandler | None:
        """stackkit's handler, when the line would reach it and nothing else."""
        logger, parent = self.logger, self.parent
        if logger.handlers or logger.filters or not logger.propagate or logger.parent is not parent:
            return None
        handlers = parent.handlers
        if len(handlers) != 1 or parent.propagate or parent.filters:
            return None
        handler = handlers[0]
        if (
            type(handler) is not StackkitHandler
            or handler.level > logging.INFO
            or len(handler.filters) != 1
        ):
            return None
        return handler


def access_message(method: str, path: str, status: int, size: int, duration_ms: float) -> str:
    """`GET /api/notes 200 1681 B 1.12 ms`: the message of an access line."""
    return f"{method} {path} {status} {size} B {duration_ms} ms"


def _json_text(text: str) -> str:
    """`text` as it goes between the quotes of a JSON string."""
    return text if _PLAIN_JSON.match(text) else to_json(text).decode()[1:-1]


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
            existing.flush()  # the access lines it still holds
    logger.addHandler(StackkitHandler(stream or sys.stderr, log_format))
    logger.propagate = False
