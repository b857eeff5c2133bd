from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from stackkit import Controller
from stackkit.logs import configure_logging
from stackkit.middleware import SecurityHeadersMiddleware


def logging_controller() -> Controller:
    api = Controller("/api", public=True)
    logger = logging.getLogger("stackkit.tests")

    @api.get("/hello")
    async def hello() -> dict[str, str]:
        logger.warning("saying hello", extra={"who": "world"})
        return {"hello": "world"}

    @api.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(0.05)  # a handler that takes 50 ms, to time
        return {}

    return api


@contextlib.contextmanager
def json_logs() -> Iterator[list[dict[str, Any]]]:
    """Collect what the stackkit loggers write, as parsed JSON lines, when the block ends."""
    stream = io.StringIO()
    entries: list[dict[str, Any]] = []
    configure_logging("INFO", "json", stream=stream)
    try:
        yield entries
    finally:
        configure_logging("INFO", "text")
        entries.extend(json.loads(line) for line in stream.getvalue().splitlines())


def test_every_response_gets_a_request_id(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/nowhere").headers["x-request-id"]
    assert len(first) == 32
    int(first, 16)  # hex
    assert first != second
    assert first[:16] == second[:16]  # the process part; the rest counts up


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [("abc-123.def_456", True), ("x" * 129, False), ("bad id\r\nset-cookie: x", False)],
    ids=["plain", "too-long", "header-injection"],
)
def test_incoming_request_id_is_kept_only_if_safe(
    make_client: Callable[..., TestClient], incoming: str, kept: bool
) -> None:
    client = make_client()
    response = client.get("/healthz", headers={"x-request-id": incoming})
    assert (response.headers["x-request-id"] == incoming) is kept


def test_security_headers_are_set(make_client: Callable[..., TestClient]) -> None:
    headers = make_client().get("/healthz").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "strict-transport-security" not in headers  # development: plain HTTP


async def test_security_headers_leave_a_responses_own_in_place() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        start = {"type": "http.response.start", "status": 200}
        await send({**start, "headers": [(b"X-Frame-Options", b"SAMEORIGIN")]})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await SecurityHeadersMiddleware(app, hsts=True)({"type": "http"}, None, send)  # type: ignore[arg-type]
    headers = sent[0]["headers"]
    assert [v for k, v in headers if k.lower() == b"x-frame-options"] == [b"SAMEORIGIN"]
    assert (b"x-content-type-options", b"nosniff") in headers
    assert any(k == b"strict-transport-security" for k, _ in headers)
    assert len(headers) == 6  # the response's own, and the five others


def test_cors_allows_configured_origins_only(
    make_client: Callable[..., TestClient], make_settings: Callable[..., object]
) -> None:
    client = make_client(make_settings(cors_origins="http://localhost:5173"))
    preflight = client.options(
        "/api/openapi.json",
        headers={
            "origin": "http://localhost:5173",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    allowed = client.get("/healthz", headers={"origin": "http://localhost:5173"})
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    other = client.get("/healthz", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_without_cors_origins_no_cors_headers(make_client: Callable[..., TestClient]) -> None:
    response = make_client().get("/healthz", headers={"origin": "http://localhost:5173"})
    assert "access-control-allow-origin" not in response.headers


def test_logs_are_json_lines_carrying_the_request_id(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(controllers=[logging_controller()])
    with json_logs() as entries:
        response = client.get("/api/hello")
    request_id = response.headers["x-request-id"]
    by_logger = {entry["logger"]: entry for entry in entries}
    assert by_logger["stackkit.tests"]["message"] == "saying hello"
    assert by_logger["stackkit.tests"]["who"] == "world"
    assert by_logger["stackkit.tests"]["request_id"] == request_id
    access = by_logger["stackkit.access"]
    assert access["request_id"] == request_id
    assert (access["method"], access["path"], access["status"]) == ("GET", "/api/hello", 200)
    assert isinstance(access["duration_ms"], float)


def test_the_access_log_times_the_request_in_milliseconds(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(controllers=[logging_controller()])
    with json_logs() as entries:
        client.get("/api/slow")
    (access,) = [entry for entry in entries if entry["logger"] == "stackkit.access"]
    assert 50 <= access["duration_ms"] < 60_000


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_access_log_leaves_the_query_string_out(
    make_client: Callable[..., TestClient], log_format: str
) -> None:
    """Query strings carry tokens and emails (`?token=...`): they stay out of the logs."""
    stream = io.StringIO()
    client = make_client(controllers=[logging_controller()])
    configure_logging("INFO", log_format, stream=stream)
    try:
        response = client.get("/api/hello?token=s3cr3t-t0ken&email=ada%40example.com")
    finally:
        configure_logging("INFO", "text")
    assert response.status_code == 200
    log = stream.getvalue()
    assert "/api/hello" in log
    for secret in ("s3cr3t", "ada", "token=", "?"):
        assert secret not in log.replace("saying hello", "")


def test_access_log_can_be_turned_off(
    make_client: Callable[..., TestClient], make_settings: Callable[..., object]
) -> None:
    client = make_client(make_settings(access_log=False), controllers=[logging_controller()])
    with json_logs() as entries:
        response = client.get("/api/hello")
    loggers = [entry["logger"] for entry in entries]
    assert response.status_code == 200
    assert loggers == ["stackkit.tests"]  # the app's own line, no access line


def test_text_logs_escape_line_breaks(make_client: Callable[..., TestClient]) -> None:
    stream = io.StringIO()
    client = make_client()
    configure_logging("INFO", "text", stream=stream)
    try:
        client.get("/healthz%0d%0aINFO forged line")
    finally:
        configure_logging("INFO", "text")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "\\r\\nINFO forged line" in lines[0]
