"""The security headers of docs/security.md's table, with their exact values, on every
kind of answer an app gives: a page of the API, a problem, a refused body, a 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient

from stackkit import Controller, Settings

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
