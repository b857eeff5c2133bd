"""Password reset by an emailed, single-use, expiring link."""

from __future__ import annotations

import asyncio
import base64
import email
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from starlette.middleware import Middleware
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stackkit import Settings
from stackkit.auth import (
    AuthConfig,
    MemoryMailBackend,
    PasswordResets,
    UnconfiguredMailBackend,
    UserService,
)
from stackkit.auth.mail import MailBackend, MailMessage
from stackkit.auth.resets import password_fingerprint
from stackkit.auth.user import User
from stackkit.cache import MemoryStore, RedisStore, Store
from stackkit.testing import delete_keys, unique_key_prefix
from tests.auth.conftest import PASSWORD, bearer, login, register
from tests.conftest import STORE_TIMEOUT
from tests.helpers import StartServer

NEW_PASSWORD = "a different long passphrase"


def _ask(
    client: TestClient, email: str = "ada@example.com", headers: dict[str, str] | None = None
) -> int:
    response = client.post("/api/auth/password-reset", json={"email": email}, headers=headers)
    return response.status_code


def _token(mail: MemoryMailBackend) -> str:
    match = re.search(r"/reset-password#token=([\w-]+)", mail.outbox[-1].text)
    assert match is not None, mail.outbox[-1].text
    return match.group(1)


def _confirm(client: TestClient, token: str, password: str = NEW_PASSWORD) -> int:
    body = {"token": token, "new_password": password}
    return client.post("/api/auth/password-reset/confirm", json=body).status_code


def test_reset_link_sets_a_new_password_and_ends_every_session(
    client: TestClient, mail: MemoryMailBackend
) -> None:
    register(client)
    sessions = [login(client), login(client)]
    assert _ask(client, " Ada@Example.com ") == 202
    [message] = mail.outbox
    assert message.to == "ada@example.com"
    assert message.text.count("http://localhost:8000/reset-password#token=") == 1
    assert _confirm(client, _token(mail)) == 204
    for tokens in sessions:
        assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401
        refreshed = client.post(
            "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 401
    login(client, password=NEW_PASSWORD)


def test_reset_link_travels_through_a_real_smtp_server(
    make_auth_client: Callable[..., TestClient], start_server: StartServer
) -> None:
    server = start_server()
    settings = Settings(
        env="test",
        database_url="sqlite:///:memory:",
        smtp_url=f"smtp://127.0.0.1:{server.port}",
        mail_from="noreply@example.com",
        public_url="https://notes.example.com",
    )
    client = make_auth_client(settings, mail_from_settings=True)
    register(client)
    assert _ask(client) == 202
    [envelope] = server.inbox.envelopes
    assert envelope.rcpt_tos == ["ada@example.com"]
    assert envelope.mail_from == "noreply@example.com"
    text = email.message_from_bytes(envelope.original_content or b"").get_payload(decode=True)
    assert isinstance(text, bytes)
    match = re.search(rb"https://notes\.example\.com/reset-password#token=([\w-]+)", text)
    assert match is not None
    assert _confirm(client, match.group(1).decode()) == 204
    login(client, password=NEW_PASSWORD)


def test_unknown_email_gets_the_same_answer_and_no_mail(
    client: TestClient, mail: MemoryMailBackend
) -> None:
    register(client)
    assert _ask(client, "nobody@example.com") == 202
    assert mail.outbox == []


def test_reset_link_works_once(client: TestClient, mail: MemoryMailBackend) -> None:
    register(client)
    _ask(client)
    token = _token(mail)
    assert _confirm(client, token) == 204
    assert _confirm(client, token, "yet another long passphrase") == 400
    login(client, password=NEW_PASSWORD)


def test_weak_new_password_leaves_the_link_usable(
    client: TestClient, mail: MemoryMailBackend
) -> None:
    register(client)
    _ask(client)
    token = _token(mail)
    assert _confirm(client, token, "short") == 422
    assert _confirm(client, token) == 204


def test_link_dies_when_the_password_changes_another_way(
    client: TestClient, mail: MemoryMailBackend
) -> None:
    register(client)
    tokens = login(client)
    _ask(client)
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert client.post("/api/auth/password", json=body, headers=bearer(tokens)).status_code == 204
    assert _confirm(client, _token(mail), "yet another long passphrase") == 400


def test_forged_token_is_refused(client: TestClient) -> None:
    register(client)
    assert _confirm(client, "not-a-token-we-gave") == 400


def test_reset_emails_are_limited_per_address_and_per_account(
    make_auth_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    settings = Settings(env="test", database_url="sqlite:///:memory:", trusted_proxies="10.0.0.1")
    client = make_auth_client(
        settings, config=AuthConfig(User, reset_limit="2/hour"), address="10.0.0.1"
    )
    register(client)
    from_one_address = [_ask(client, headers={"X-Forwarded-For": "192.0.2.1"}) for _ in range(3)]
    assert from_one_address == [202, 202, 429]
    assert len(mail.outbox) == 2
    # From other addresses the asks are answered alike, but no more mail goes out.
    assert _ask(client, headers={"X-Forwarded-For": "192.0.2.2"}) == 202
    assert len(mail.outbox) == 2


async def test_reset_tokens_expire() -> None:
    now = [1000.0]
    resets = PasswordResets(MemoryStore(clock=lambda: now[0]), ttl=60)
    token = await resets.issue(7, "hash")
    now[0] += 61
    assert await resets.peek(token) is None
    assert await resets.redeem(token) is None


async def test_reset_token_redeems_once_and_stores_only_a_digest() -> None:
    store = MemoryStore()
    resets = PasswordResets(store, ttl=60)
    token = await resets.issue(7, "hash")
    assert token not in repr(store._entries)
    claim = await resets.redeem(token)
    assert claim is not None
    assert claim.user_id == 7
    assert await resets.redeem(token) is None


def test_the_answer_goes_out_before_the_account_is_looked_up(
    make_auth_client: Callable[..., TestClient],
) -> None:
    events: list[str] = []

    class Watched(UserService[Any]):
        async def get_by_email(self, email: str) -> Any:
            events.append("lookup")
            return await super().get_by_email(email)

    class SeesTheAnswer:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            async def watched_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    events.append(f"answer {message['status']}")
                await send(message)

            await self.app(scope, receive, watched_send)

    config = AuthConfig(User, user_service=Watched.for_model(User))
    client = make_auth_client(config=config, middleware=[Middleware(SeesTheAnswer)])
    register(client)
    for address in ("ada@example.com", "nobody@example.com"):
        events.clear()
        assert _ask(client, address) == 202
        assert events == ["answer 202", "lookup"]


def test_a_reset_token_is_256_random_bits_and_the_store_keeps_its_sha256() -> None:
    store = MemoryStore()
    resets = PasswordResets(store, ttl=60)
    tokens = [asyncio.run(resets.issue(7, "hash")) for _ in range(3)]
    assert len(set(tokens)) == 3
    for token in tokens:
        assert len(base64.urlsafe_b64decode(token + "=")) == 32
    stored = {key.removeprefix(store.prefix) for key in store._entries}
    digests = {f"password-reset:{hashlib.sha256(t.encode()).hexdigest()}" for t in tokens}
    assert stored == digests
    assert not any(token in repr(store._entries) for token in tokens)


@pytest.fixture(params=["memory", "redis"])
async def reset_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    prefix = unique_key_prefix()
    if request.param == "memory":
        yield MemoryStore(prefix=prefix)
        return
    url = request.getfixturevalue("redis_url")
    store = RedisStore(url, prefix=prefix, timeout=STORE_TIMEOUT)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
        delete_keys(url, prefix)


async def test_of_concurrent_redeems_of_one_token_exactly_one_wins(reset_store: Store) -> None:
    resets = PasswordResets(reset_store, ttl=60)
    token = await resets.issue(7, "hash")
    read = reset_store.get

    async def get_then_let_others_run(key: str) -> bytes | None:
        value = await read(key)
        await asyncio.sleep(0)  # every redeem reads the token before any deletes it
        return value

    reset_store.get = get_then_let_others_run  # type: ignore[method-assign]
    claims = await asyncio.gather(*(resets.redeem(token) for _ in range(20)))
    assert [claim.user_id for claim in claims if claim is not None] == [7]


async def test_a_reset_link_works_for_an_hour_by_default(client: TestClient) -> None:
    now = [1000.0]
    resets = PasswordResets(MemoryStore(clock=lambda: now[0]))
    token = await resets.issue(7, "hash")
    now[0] += 3599
    assert await resets.peek(token) is not None
    now[0] += 1  # an hour to the second
    assert await resets.redeem(token) is None
    assert AuthConfig(User).password_reset_ttl == 3600
    assert client.app.state.auth.resets.ttl == 3600  # type: ignore[attr-defined]


def test_a_public_url_with_a_path_keeps_it_in_the_link(
    make_auth_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    """An app served under a path (`/SANDBOX/` here: any last letter, any case)."""
    settings = Settings(
        env="test", database_url="sqlite:///:memory:",
        public_url="https://notes.example.com/SANDBOX/",
    )  # fmt: skip
    client = make_auth_client(settings)
    register(client)
    assert _ask(client) == 202
    link = f"https://notes.example.com/SANDBOX/reset-password#token={_token(mail)}"
    assert link in mail.outbox[-1].text


def test_the_link_starts_with_the_public_url_whatever_the_host(
    make_auth_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    settings = Settings(
        env="test", database_url="sqlite:///:memory:", public_url="https://notes.example.com"
    )
    client = make_auth_client(settings)
    register(client)
    for host in ("evil.example", "notes.example.com.evil.example"):
        assert _ask(client, headers={"Host": host, "X-Forwarded-Host": host}) == 202
        link = re.search(r"\S+/reset-password#\S+", mail.outbox[-1].text)
        assert link is not None
        assert link.group().startswith("https://notes.example.com/reset-password#token=")


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    async def get(self, key: str) -> bytes | None:
        self.gets += 1
        return await super().get(key)


@pytest.mark.parametrize(
    ("token", "looked_up"),
    [("", False), ("a", True), ("a" * 100, True), ("a" * 101, False), ("a" * 10_000, False)],
    ids=["empty", "one", "100", "101", "10000"],
)
async def test_only_tokens_of_1_to_100_characters_are_looked_up(
    token: str, looked_up: bool
) -> None:
    store = CountingStore()
    resets = PasswordResets(store)
    assert await resets.peek(token) is None
    assert await resets.redeem(token) is None
    assert store.gets == (2 if looked_up else 0)


def test_a_password_fingerprint_is_128_bits_of_its_hashs_sha256() -> None:
    fingerprint = password_fingerprint("$argon2id$v=19$...")
    assert fingerprint == hashlib.sha256(b"$argon2id$v=19$...").hexdigest()[:32]


def test_the_reset_email_says_where_to_go_and_for_how_long(
    make_auth_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    settings = Settings(
        env="test", database_url="sqlite:///:memory:", public_url="https://notes.example.com/"
    )
    client = make_auth_client(settings, config=AuthConfig(User, password_reset_ttl=5430))
    register(client)
    assert _ask(client) == 202
    [message] = mail.outbox
    link = f"https://notes.example.com/reset-password#token={_token(mail)}"
    assert (message.to, message.subject, message.text) == (
        "ada@example.com",
        "Reset your password",
        f"To choose a new password, open this link within 90 minutes:\n\n{link}\n\n"
        "If you did not ask for it, ignore this email: your password stays as it is.\n",
    )


def test_a_disabled_account_gets_no_reset_link(client: TestClient, mail: MemoryMailBackend) -> None:
    user = register(client)
    app: Any = client.app
    assert client.portal is not None
    client.portal.call(app.state.auth.users(app.state.database).set_active, user["id"], False)
    assert _ask(client) == 202
    assert mail.outbox == []


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def auth_log() -> Iterator[list[logging.LogRecord]]:
    """What `stackkit.auth` logs during the test (an app sends the `stackkit` loggers to a
    handler of its own, not to caplog's)."""
    handler = Records()
    logger = logging.getLogger("stackkit.auth")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


class BrokenMailBackend(MailBackend):
    """A backend with a bug: it fails with something other than a MailError."""

    async def send(self, message: MailMessage) -> None:
        raise RuntimeError("a bug in the backend")


@pytest.mark.parametrize(
    ("mail", "message", "traceback_of"),
    [
        (
            UnconfiguredMailBackend(),
            "The password-reset email was not sent: mail is not configured (set STACKKIT_SMTP_URL)",
            None,
        ),
        (BrokenMailBackend(), "The password-reset email was not sent", "a bug in the backend"),
    ],
    ids=["mail-error-with-why", "bug-with-traceback"],
)
def test_a_reset_email_that_cannot_be_sent_is_logged(
    make_auth_client: Callable[..., TestClient],
    auth_log: list[logging.LogRecord],
    mail: MailBackend,
    message: str,
    traceback_of: str | None,
) -> None:
    """A MailError is logged with why; anything else (a bug) with its traceback."""
    client = make_auth_client(config=AuthConfig(User, mail=mail))
    register(client)
    assert _ask(client) == 202
    [record] = auth_log
    assert record.getMessage() == message
    if traceback_of is None:
        assert not record.exc_info
    else:
        assert record.exc_info is not None
        assert str(record.exc_info[1]) == traceback_of
