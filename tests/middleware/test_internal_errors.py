"""`InternalErrorMiddleware`, over ASGI: an error before the answer starts becomes a
problem (500, or the raised problem's status), logged with its traceback; an error
after the answer has started is raised on, so the server closes the connection
instead of sending a second answer."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from stackkit.http.problems import ProblemError
from stackkit.middleware import InternalErrorMiddleware

ERRORS = {"unhandled": ValueError("boom"), "problem": ProblemError(429, "Slow down.")}


async def _run(app: Any, *, expose_errors: bool = False) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/boom", "headers": [],
             "state": {"request_id": "req-1"}}  # fmt: skip
    await InternalErrorMiddleware(app, expose_errors=expose_errors)(scope, receive, send)
    return sent


def _failing(error: Exception, *, after_start: bool, with_body: bool = True) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if after_start:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            if with_body:
                await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise error

    return app


@pytest.mark.parametrize("with_body", [False, True], ids=["start-only", "part-of-the-body"])
@pytest.mark.parametrize("kind", ERRORS)
async def test_an_error_after_the_answer_started_is_raised_on_not_answered(
    kind: str, with_body: bool
) -> None:
    with pytest.raises(type(ERRORS[kind])):
        await _run(_failing(ERRORS[kind], after_start=True, with_body=with_body))


@pytest.mark.parametrize("expose_errors", [False, True])
async def test_an_unhandled_error_is_a_logged_500_problem(
    caplog: pytest.LogCaptureFixture, expose_errors: bool
) -> None:
    with caplog.at_level(logging.ERROR, logger="stackkit"):
        sent = await _run(
            _failing(ERRORS["unhandled"], after_start=False), expose_errors=expose_errors
        )
    start, body = sent
    assert start["status"] == 500
    assert (b"content-type", b"application/problem+json") in start["headers"]
    problem = json.loads(body["body"])
    assert problem["detail"] == "The server failed to handle this request. It has been logged."
    assert (problem["instance"], problem["request_id"]) == ("/boom", "req-1")
    assert problem.get("error") == ("ValueError: boom" if expose_errors else None)
    (record,) = [r for r in caplog.records if r.name.startswith("stackkit")]
    assert record.getMessage() == "Unhandled error in GET /boom"
    assert record.exc_info is not None


async def test_a_problem_raised_before_the_answer_keeps_its_status() -> None:
    start, body = await _run(_failing(ERRORS["problem"], after_start=False))
    assert start["status"] == 429
    problem = json.loads(body["body"])
    assert (problem["detail"], problem["instance"]) == ("Slow down.", "/boom")


async def test_errors_are_not_exposed_unless_asked() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/boom", "headers": [], "state": {}}
    failing = _failing(ValueError("secret detail"), after_start=False)
    await InternalErrorMiddleware(failing)(scope, None, send)  # type: ignore[arg-type]
    problem = json.loads(sent[1]["body"])
    assert problem["status"] == 500
    assert "error" not in problem
    assert b"secret detail" not in sent[1]["body"]
