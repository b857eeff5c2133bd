"""Reset and verification emails through the app's job queue (`create_app(jobs=...)`),
delivered to a real SMTP server: on the embedded default by the app's own worker, on
PostgreSQL by a worker serving the queue's tables; a failed send is queued again, not
lost."""

from __future__ import annotations

import email
import re
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.auth.account_mail import ACCOUNT_EMAIL_JOB
from stackkit.auth.reset_mail import RESET_EMAIL_JOB
from stackkit.jobs import JobQueue, JobRecord
from stackkit.testing import find_free_port
from tests.auth.conftest import PASSWORD, register
from tests.helpers import Inbox, StartServer

NEW_PASSWORD = "a different long passphrase"


async def install_queue(app: Starlette) -> None:
    await app.state.jobs.install()


def _app(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any], smtp_port: int
) -> tuple[TestClient, JobQueue]:
    jobs = JobQueue(requeue_every=None, clean_up_every=None)
    settings = Settings(env="test", smtp_url=f"smtp://127.0.0.1:{smtp_port}", **service_settings)
    client = make_auth_client(settings, mail_from_settings=True, jobs=jobs, startup=[install_queue])
    return client, jobs


def _records(client: TestClient, jobs: JobQueue) -> list[JobRecord]:
    found: list[JobRecord] = client.portal.call(jobs.records)  # type: ignore[union-attr]
    return [record for record in found if record.name == RESET_EMAIL_JOB]


def _serve(client: TestClient, jobs: JobQueue) -> None:
    """Run the waiting jobs: the app's own worker does on the embedded default."""
    if jobs.durable:
        client.portal.call(partial(jobs.run_worker, until_empty=True))  # type: ignore[union-attr]


def _until(condition: Callable[[], bool], what: str, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not in time"
        time.sleep(0.02)


def _link_token(inbox: Inbox) -> str:
    message = email.message_from_bytes(inbox.envelopes[-1].original_content or b"")
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    match = re.search(r"/reset-password#token=([\w-]+)", body.decode())
    assert match is not None, body
    return match.group(1)


def test_the_reset_email_goes_through_the_queue_and_its_link_works(
    make_auth_client: Callable[..., TestClient],
    service_settings: dict[str, Any],
    start_server: StartServer,
) -> None:
    server = start_server()
    client, jobs = _app(make_auth_client, service_settings, server.port)
    register(client)
    answer = client.post("/api/auth/password-reset", json={"email": "ada@example.com"})
    assert answer.status_code == 202
    _serve(client, jobs)
    _until(lambda: len(server.inbox.envelopes) == 1, "the reset email")
    assert server.inbox.envelopes[0].rcpt_tos == ["ada@example.com"]
    _until(lambda: [r.status for r in _records(client, jobs)] == ["succeeded"], "the job")
    assert _records(client, jobs)[0].arguments == {"email": "ada@example.com"}
    body = {"token": _link_token(server.inbox), "new_password": NEW_PASSWORD}
    assert client.post("/api/auth/password-reset/confirm", json=body).status_code == 204


def test_an_email_without_an_account_runs_a_job_that_sends_nothing(
    make_auth_client: Callable[..., TestClient],
    service_settings: dict[str, Any],
    start_server: StartServer,
) -> None:
    server = start_server()
    client, jobs = _app(make_auth_client, service_settings, server.port)
    answer = client.post("/api/auth/password-reset", json={"email": "nobody@example.com"})
    assert answer.status_code == 202
    _serve(client, jobs)
    _until(lambda: [r.status for r in _records(client, jobs)] == ["succeeded"], "the job")
    assert server.inbox.envelopes == []


def test_a_send_the_mail_server_refused_is_queued_again(
    make_auth_client: Callable[..., TestClient],
    service_settings: dict[str, Any],
    start_server: StartServer,
) -> None:
    port = find_free_port()  # nothing listens there yet
    client, jobs = _app(make_auth_client, service_settings, port)
    register(client)
    answer = client.post("/api/auth/password-reset", json={"email": "ada@example.com"})
    assert answer.status_code == 202
    _serve(client, jobs)

    def retried() -> bool:
        found = _records(client, jobs)
        return [(r.status, r.attempts) for r in found] == [("todo", 1)]

    _until(retried, "the failed send queued again")
    [record] = _records(client, jobs)
    assert record.scheduled_at is not None  # a few seconds later, not at once
    server = start_server(port=port)

    def delivered() -> bool:
        _serve(client, jobs)
        return len(server.inbox.envelopes) == 1

    _until(delivered, "the reset email, at the next try", within=20)
    _until(lambda: [r.status for r in _records(client, jobs)] == ["succeeded"], "the job")


def test_the_verification_email_goes_through_the_queue_and_its_link_works(
    make_auth_client: Callable[..., TestClient],
    service_settings: dict[str, Any],
    start_server: StartServer,
) -> None:
    server = start_server()
    client, jobs = _app(
        make_auth_client, {**service_settings, "email_verification": True}, server.port
    )
    answer = client.post(
        "/api/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert answer.status_code == 202
    _serve(client, jobs)
    _until(lambda: len(server.inbox.envelopes) == 1, "the verification email")

    def done() -> list[Any]:
        found: list[JobRecord] = client.portal.call(jobs.records)  # type: ignore[union-attr]
        return [(r.status, r.arguments) for r in found if r.name == ACCOUNT_EMAIL_JOB]

    _until(lambda: bool(done()) and done()[0][0] == "succeeded", "the job")
    assert done()[0][1] == {"kind": "verify", "user_id": 1, "email": None}
    message = email.message_from_bytes(server.inbox.envelopes[0].original_content or b"")
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    match = re.search(r"/verify-email#token=([\w-]+)", body.decode())
    assert match is not None, body
    assert client.post("/api/auth/verify-email", json={"token": match.group(1)}).status_code == 204
