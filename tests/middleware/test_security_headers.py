"""The security headers of docs/security.md's table, with their exact values, on every
kind of answer an app gives: a page of the API, a problem, a refused body, a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from stackkit import Controller, Settings
from stackkit.middleware import SecurityHeadersMiddleware

STRONG_KEY = "q8Vw2-LmZr7xKp4TnYb9HcJd6FgUe3Ns5AoWi1Rt"

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'; object-src 'none'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = ("Strict-Transport-Security", "max-age=63072000; includeSubDomains")


class Note(BaseModel):
    text: str


def routes() -> Controller:
    api = Controller("/api", public=True)

    @api.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @api.post("/notes")
    async def create_note(body: Note) -> Note:
        return body

    @api.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    return api


ANSWERS = {
    "200": ("GET", "/api/ok", None, 200),
    "404": ("GET", "/api/nowhere", None, 404),
    "405": ("DELETE", "/api/ok", None, 405),
    "413": ("POST", "/api/notes", b'{"text": "' + b"x" * 200 + b'"}', 413),
    "422": ("POST", "/api/notes", b"{}", 422),
    "500": ("GET", "/api/crash", None, 500),
    "health": ("GET", "/healthz", None, 200),
}


@pytest.mark.parametrize("env", ["development", "production"])
@pytest.mark.parametrize("answer", list(ANSWERS))
def test_every_answer_carries_the_security_headers(
    make_client: Callable[..., TestClient], env: str, answer: str
) -> None:
    settings = Settings(
        env=env, database_url="sqlite:///:memory:", secret_key=STRONG_KEY, max_body_size=100
    )
    client = make_client(settings, controllers=[routes()])
    method, path, body, status = ANSWERS[answer]
    response = client.request(
        method, path, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    expected = dict(HEADERS, **({HSTS[0]: HSTS[1]} if env == "production" else {}))
    sent = {name: response.headers.get(name) for name in [*HEADERS, HSTS[0]]}
    assert sent == {name: expected.get(name) for name in sent}


async def _headers_sent(middleware: SecurityHeadersMiddleware, start: Message) -> Any:
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Message) -> None:
        sent.append(message)

    middleware.app = app
    await middleware({"type": "http"}, None, send)  # type: ignore[arg-type]
    assert sent[1] == {"type": "http.response.body", "body": b""}
    return sent[0]["headers"]


@pytest.mark.parametrize(
    "own",
    [[], [(b"Referrer-Policy", b"no-referrer"), (b"content-security-policy", b"default-src *")]],
    ids=["none", "two-of-its-own"],
)
async def test_each_header_goes_once_named_in_lower_case_and_hsts_only_when_asked(
    own: list[tuple[bytes, bytes]],
) -> None:
    start = {"type": "http.response.start", "status": 200, "headers": own}
    headers = await _headers_sent(SecurityHeadersMiddleware(None), start)  # type: ignore[arg-type]
    names = [name.lower() for name, _ in headers]
    assert sorted(names) == sorted(name.lower().encode() for name in HEADERS)
    added = [name for name, _ in headers[len(own) :]]
    assert added == [name.lower() for name in added]  # ASGI header names are lower case
    assert headers[: len(own)] == own  # the answer's own, kept as they were


async def test_an_answer_without_headers_gets_them_all() -> None:
    start = {"type": "http.response.start", "status": 204}
    headers = await _headers_sent(SecurityHeadersMiddleware(None, hsts=True), start)  # type: ignore[arg-type]
    assert {name.decode() for name, _ in headers} == {name.lower() for name in [*HEADERS, HSTS[0]]}
