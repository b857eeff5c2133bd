"""Changing the email address: `POST /api/auth/email` mails a link to the new address,
`POST /api/auth/email/confirm` makes the change; the old address is told, and the
other sessions end. With the attacks on the links."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.auth import MemoryMailBackend
from tests.auth.conftest import PASSWORD, bearer, login, register

EMAIL = "ada@example.com"
NEW = "ada.lovelace@example.com"
LINK = re.compile(r"https://app\.example\.com/confirm-email#token=([\w-]+)")


@pytest.fixture
def client(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> TestClient:
    settings = Settings(env="test", public_url="https://app.example.com", **service_settings)
    client = make_auth_client(settings)
    register(client)
    return client


def _ask(client: TestClient, tokens: Any, new: str = NEW, password: str = PASSWORD) -> Any:
    return client.post(
        "/api/auth/email", json={"new_email": new, "password": password}, headers=bearer(tokens)
    )


def _token(mail: MemoryMailBackend, to: str = NEW) -> str:
    message = [m for m in mail.outbox if m.to == to][-1]
    match = LINK.search(message.text)
    assert match is not None, message.text
    return match.group(1)


def _confirm(client: TestClient, token: str, tokens: Any = None) -> Any:
    headers = bearer(tokens) if tokens else {}
    return client.post("/api/auth/email/confirm", json={"token": token}, headers=headers)


def test_the_new_address_confirms_the_change_the_old_one_is_told_other_sessions_end(
    client: TestClient, mail: MemoryMailBackend
) -> None:
    here, elsewhere = login(client), login(client)
    answer = _ask(client, here)
    assert (answer.status_code, answer.content) == (202, b"")
    [link_mail] = mail.outbox
    assert (link_mail.to, link_mail.subject) == (NEW, "Confirm your new email address")
    # Nothing changes until the link is opened.
    assert client.get("/api/auth/me", headers=bearer(here)).json()["email"] == EMAIL

    assert _confirm(client, _token(mail), here).status_code == 204
    assert client.get("/api/auth/me", headers=bearer(here)).json()["email"] == NEW
    notice = mail.outbox[-1]
    assert (notice.to, notice.subject) == (EMAIL, "Your email address was changed")
    assert NEW in notice.text
    # This session goes on; the other one has ended.
    assert client.get("/api/auth/me", headers=bearer(here)).status_code == 200
    assert client.get("/api/auth/me", headers=bearer(elsewhere)).status_code == 401
    # The new address signs in; the old one no more.
    login(client, NEW)
    old = client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert old.status_code == 401
    events = client.get("/api/auth/audit", headers=bearer(here)).json()["items"]
    changed = next(event for event in events if event["event"] == "email.changed")
    assert changed["details"] == {"old": EMAIL, "new": NEW}


def test_a_link_opened_signed_out_ends_every_session(
    client: TestClient, mail: MemoryMailBackend
) -> None:
    tokens = login(client)
    assert _ask(client, tokens).status_code == 202
    assert _confirm(client, _token(mail)).status_code == 204
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401


def test_a_link_works_once(client: TestClient, mail: MemoryMailBackend) -> None:
    tokens = login(client)
    assert _ask(client, tokens).status_code == 202
    token = _token(mail)
    assert _confirm(client, token, tokens).status_code == 204
    assert _confirm(client, token, tokens).status_code == 400


@pytest.mark.parametrize(
    "tamper",
    [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: t + "x", lambda t: t.upper()],
    ids=["last-character", "longer", "case"],
)
def test_a_tampered_link_changes_nothing(
    client: TestClient, mail: MemoryMailBackend, tamper: Callable[[str], str]
) -> None:
    tokens = login(client)
    assert _ask(client, tokens).status_code == 202
    token = _token(mail)
    assert _confirm(client, tamper(token), tokens).status_code == 400
    assert client.get("/api/auth/me", headers=bearer(tokens)).json()["email"] == EMAIL
    assert _confirm(client, token, tokens).status_code == 204  # the real one still works


def test_a_verification_link_is_no_change_link_and_the_reverse(
    make_auth_client: Callable[..., TestClient],
    service_settings: dict[str, Any],
    mail: MemoryMailBackend,
) -> None:
    settings = Settings(
        env="test", public_url="https://app.example.com", email_verification=True,
        **service_settings,
    )  # fmt: skip
    client = make_auth_client(settings)
    assert (
        client.post("/api/auth/register", json={"email": EMAIL, "password": PASSWORD}).status_code
        == 202
    )
    verify = re.search(r"verify-email#token=([\w-]+)", mail.outbox[-1].text)
    assert verify is not None
    assert _confirm(client, verify.group(1)).status_code == 400
    tokens = login(client)
    assert _ask(client, tokens).status_code == 202
    change = _token(mail)
    assert client.post("/api/auth/verify-email", json={"token": change}).status_code == 400
    # Confirming a change proves the new address: it is verified.
    assert _confirm(client, change, tokens).status_code == 204
    again = login(client, NEW)
    assert client.get("/api/auth/email", headers=bearer(again)).json()["verified_at"] is not None


def test_a_link_dies_when_the_address_changed_another_way(
    client: TestClient, mail: MemoryMailBackend
) -> None:
    tokens = login(client)
    assert _ask(client, tokens).status_code == 202
    first = _token(mail)
    assert _ask(client, tokens, "third@example.com").status_code == 202
    assert _confirm(client, _token(mail, "third@example.com"), tokens).status_code == 204
    # The first link was for the change from the old address, which is gone.
    assert _confirm(client, first, tokens).status_code == 400
    me = client.get("/api/auth/me", headers=bearer(tokens)).json()
    assert me["email"] == "third@example.com"


def test_an_address_taken_meanwhile_is_refused_and_the_link_is_not_spent(
    client: TestClient, mail: MemoryMailBackend
) -> None:
    tokens = login(client)
    assert _ask(client, tokens).status_code == 202
    token = _token(mail)
    register(client, NEW)
    taken = _confirm(client, token, tokens)
    assert taken.status_code == 409
    assert client.get("/api/auth/me", headers=bearer(tokens)).json()["email"] == EMAIL


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"new_email": NEW, "password": "not the password"}, "password"),
        ({"new_email": EMAIL, "password": PASSWORD}, "new_email"),
        ({"new_email": "ADA@Example.com", "password": PASSWORD}, "new_email"),
        ({"new_email": "not an email", "password": PASSWORD}, "new_email"),
    ],
    ids=["wrong-password", "same-address", "same-address-other-case", "not-an-email"],
)
def test_a_refused_request_names_its_field_and_sends_nothing(
    client: TestClient, mail: MemoryMailBackend, body: dict[str, str], field: str
) -> None:
    tokens = login(client)
    answer = client.post("/api/auth/email", json=body, headers=bearer(tokens))
    assert answer.status_code == 422, answer.text
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    assert mail.outbox == []


def test_password_guesses_through_the_change_count_as_sign_ins(
    make_auth_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    from stackkit.auth import AuthConfig
    from stackkit.auth.user import User

    client = make_auth_client(config=AuthConfig(User, login_limit_per_account="3/minute"))
    register(client)
    tokens = login(client)  # one
    statuses = [_ask(client, tokens, password="guess number x").status_code for _ in range(3)]
    assert statuses == [422, 422, 429]


def test_only_a_signed_in_user_asks_and_the_route_is_limited(
    client: TestClient, mail: MemoryMailBackend
) -> None:
    assert (
        client.post("/api/auth/email", json={"new_email": NEW, "password": PASSWORD}).status_code
        == 401
    )
    tokens = login(client)
    statuses = [_ask(client, tokens, f"n{i}@example.com").status_code for i in range(4)]
    assert statuses == [202, 202, 202, 429]  # AuthConfig.verification_limit: 3/hour
