"""The access log's direct line: the same text as through `logging`, one line per
request whatever the path holds, written by the end of the event loop's turn and
before any later record; through `logging` once anything else listens."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackkit.logs import AccessLog, StackkitHandler, configure_logging, current_request_id

PATHS = {
    "plain": "/api/notes",
    "quote-and-backslash": '/a"b\\c',
    "line-breaks": "/a\r\nb",
    "control-characters": "/a\x00\x1b[31mb\x7f",
    "non-ascii": "/caf\u00e9/\u732b",
}
TIME = re.compile(r'^[0-9-]+ [0-9:]+,\d{3} |"time":"[^"]+",')


def _configure(log_format: str, stream: io.StringIO) -> None:
    """stackkit's handler on `stream`, and no other: pytest's log capture listens
    beside it while a test runs, which sends every line through `logging`."""
    configure_logging("INFO", log_format, stream=stream)  # type: ignore[arg-type]
    parent = logging.getLogger("stackkit")
    for handler in list(parent.handlers):
        if not isinstance(handler, StackkitHandler):
            parent.removeHandler(handler)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    written = io.StringIO()
    yield written
    configure_logging("INFO", "text")


class Listener(logging.Filter):
    """A filter of the app's own on the access logger: it sees each record."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return True


def _line(log_format: str, stream: io.StringIO, path: str, *, through_logging: bool) -> str:
    _configure(log_format, stream)
    listener = Listener()
    access = logging.getLogger("stackkit.access")
    if through_logging:
        access.addFilter(listener)
    assert (AccessLog()._only_handler() is None) is through_logging
    token = current_request_id.set("req-1")
    try:
        AccessLog()("req-1", "GET", path, 200, 1681, 0.412)
    finally:
        current_request_id.reset(token)
        access.removeFilter(listener)
    assert len(listener.records) == (1 if through_logging else 0)
    configure_logging("INFO", "text")  # flushes the handler it replaces
    return stream.getvalue()


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("path", list(PATHS.values()), ids=list(PATHS))
def test_the_direct_line_is_the_line_logging_writes(log_format: str, path: str) -> None:
    direct = _line(log_format, io.StringIO(), path, through_logging=False)
    logged = _line(log_format, io.StringIO(), path, through_logging=True)
    assert direct.count("\n") == 1
    assert direct.endswith("\n")
    assert TIME.sub("", direct) == TIME.sub("", logged)


def test_a_json_line_carries_every_field(stream: io.StringIO) -> None:
    entry = json.loads(_line("json", stream, '/a"b', through_logging=False))
    del entry["time"]
    assert entry == {
        "level": "info",
        "logger": "stackkit.access",
        "message": 'GET /a"b 200 1681 B 0.412 ms',
        "request_id": "req-1",
        "method": "GET",
        "path": '/a"b',
        "status": 200,
        "bytes": 1681,
        "duration_ms": 0.412,
    }


def test_a_text_line_has_the_time_level_logger_id_and_request(stream: io.StringIO) -> None:
    line = _line("text", stream, "/api/notes", through_logging=False)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO    stackkit\.access \[req-1\]"
        r" GET /api/notes 200 1681 B 0\.412 ms\n",
        line,
    )


@given(st.text(max_size=40))
def test_any_path_gives_one_line_that_keeps_it(path: str) -> None:
    for log_format in ("text", "json"):
        line = _line(log_format, io.StringIO(), "/" + path, through_logging=False)
        assert line.count("\n") == 1
        if log_format == "json":
            assert json.loads(line)["path"] == "/" + path


async def test_lines_are_written_by_the_end_of_the_loops_turn(stream: io.StringIO) -> None:
    _configure("text", stream)
    AccessLog()("req-1", "GET", "/a", 200, 0, 1.0)
    assert stream.getvalue() == ""  # held for this turn of the loop
    await asyncio.sleep(0)
    assert "GET /a 200" in stream.getvalue()


async def test_a_later_record_comes_after_the_lines_held(stream: io.StringIO) -> None:
    _configure("text", stream)
    AccessLog()("req-1", "GET", "/first", 200, 0, 1.0)
    logging.getLogger("stackkit.app").warning("second")
    lines = stream.getvalue().splitlines()
    assert ["GET /first" in lines[0], "second" in lines[1]] == [True, True]


async def test_many_lines_in_one_turn_go_out_without_waiting_for_it(stream: io.StringIO) -> None:
    _configure("text", stream)
    log = AccessLog()
    for number in range(200):
        log("req-1", "GET", f"/n/{number}", 200, 0, 1.0)
    assert stream.getvalue().count("\n") >= 192  # at most 64 held


def test_outside_an_event_loop_a_line_is_written_at_once(stream: io.StringIO) -> None:
    _configure("json", stream)
    AccessLog()("req-1", "GET", "/a", 200, 0, 1.0)
    assert json.loads(stream.getvalue())["path"] == "/a"


@pytest.mark.parametrize(
    "change",
    ["handler-of-its-own", "second-handler", "handler-level", "propagating", "level-warning"],
)
def test_anything_else_listening_turns_the_direct_line_off(
    stream: io.StringIO, change: str
) -> None:
    _configure("text", stream)
    access, parent = logging.getLogger("stackkit.access"), logging.getLogger("stackkit")
    (handler,) = parent.handlers
    assert isinstance(handler, StackkitHandler)
    extra = logging.StreamHandler(io.StringIO())
    if change == "handler-of-its-own":
        access.addHandler(extra)
    elif change == "second-handler":
        parent.addHandler(extra)
    elif change == "handler-level":
        handler.setLevel(logging.WARNING)
    elif change == "propagating":
        parent.propagate = True
    else:
        parent.setLevel(logging.WARNING)
    try:
        assert AccessLog()._only_handler() is None or change == "level-warning"
        AccessLog()("req-1", "GET", "/a", 200, 0, 1.0)
        if change in ("handler-level", "level-warning"):
            assert "GET /a" not in stream.getvalue()  # the level is honoured
    finally:
        access.removeHandler(extra)
        parent.removeHandler(extra)


async def test_a_stream_that_fails_is_reported_not_raised_into_the_app(
    stream: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    _configure("text", stream)
    AccessLog()("req-1", "GET", "/a", 200, 0, 1.0)
    stream.close()
    logging.getLogger("stackkit.app").warning("after the stream closed")  # does not raise
    AccessLog()("req-1", "GET", "/b", 200, 0, 1.0)
    await asyncio.sleep(0)  # the held line's flush fails, and is said on stderr
    assert "access lines not written" in capsys.readouterr().err
