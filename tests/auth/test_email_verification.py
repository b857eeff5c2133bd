"""Email verification (`STACKKIT_EMAIL_VERIFICATION`): the link mailed on registration,
`/verify-email` and its resend, registration that tells nobody which emails have
accounts, sign-in refused until verified (`STACKKIT_REQUIRE_VERIFIED_EMAIL`), and
routes declared `verified=True`; with the attacks on the links."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.auth import MemoryMailBackend
from stackkit.auth.verification import EmailVerifications
from stackkit.cache.store import Store
from stackkit.http.routing import Controller
from tests.auth.conftest import PASSWORD, bearer, login

EMAIL = "ada@example.com"
VERIFY_LINK = re.compile(r"https://app\.example\.com/verify-email#token=([\w-]+)")


def _protected() -> Controller:
    api = Controller("/api/reports")

    @api.get("/verified", verified=True)
    async def verified_only(request: Request) -> dict[str, str]:
        return {"who": str(request.user.id)}

    @api.get("/anyone")
    async def anyone(request: Request) -> dict[str, str]:
        return {"who": str(request.user.id)}

    return api


@pytest.fixture
def make_client(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> Callable[..., TestClient]:
    def make(address: str = "testclient", **settings: Any) -> TestClient:
        options = {"email_verification": True, **settings}
        return make_auth_client(
            Settings(
                env="test", public_url="https://app.example.com", **service_settings, **options
            ),
            controllers=[_protected()],
            address=address,
        )

    return make


def _register(client: TestClient, email: str = EMAIL, password: str = PASSWORD) -> int:
    response = client.post("/api/auth/register", json={"email": email, "password": password})
    return response.status_code


def _link_token(mail: MemoryMailBackend, to: str = EMAIL) -> str:
    message = [m for m in mail.outbox if m.to == to][-1]
    match = VERIFY_LINK.search(message.text)
    assert match is not None, message.text
    return match.group(1)


def _verify(client: TestClient, token: str) -> int:
    return client.post("/api/auth/verify-email", json={"token": token}).status_code


def test_registration_mails_a_link_that_verifies_the_address_once(
    make_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    client = make_client()
    assert _register(client) == 202
    [message] = mail.outbox
    assert message.subject == "Verify your email address"
    tokens = login(client)
    address = client.get("/api/auth/email", headers=bearer(tokens)).json()
    assert address == {"email": EMAIL, "verification": True, "verified_at": None}
    refused = client.get("/api/reports/verified", headers=bearer(tokens))
    assert refused.status_code == 403
    assert refused.json()["code"] == "email_not_verified"
    assert client.get("/api/reports/anyone", headers=bearer(tokens)).status_code == 200

    token = _link_token(mail)
    assert _verify(client, token) == 204
    assert _verify(client, token) == 400  # spent
    again = login(client)
    assert client.get("/api/auth/email", headers=bearer(again)).json()["verified_at"]
    assert client.get("/api/reports/verified", headers=bearer(again)).status_code == 200
    events = client.get("/api/auth/audit", headers=bearer(again)).json()["items"]
    assert "email.verified" in [event["event"] for event in events]


def test_registration_answers_the_same_for_a_taken_email_and_tells_its_owner(
    make_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    client = make_client()
    assert _register(client) == 202
    first = client.post(
        "/api/auth/register", json={"email": "grace@example.com", "password": PASSWORD}
    )
    taken = client.post("/api/auth/register", json={"email": EMAIL, "password": "another long one"})
    assert (first.status_code, first.content) == (taken.status_code, taken.content) == (202, b"")
    assert dict(first.headers).keys() == dict(taken.headers).keys()
    note = mail.outbox[-1]
    assert note.to == EMAIL
    assert note.subject == "Someone tried to create an account with your address"
    assert "verify-email" not in note.text
    # The account is untouched: its password is the first one.
    login(client)


def test_with_verification_off_registration_answers_201_and_everyone_counts_as_verified(
    make_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    client = make_client(email_verification=False)
    response = client.post("/api/auth/register", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 201
    assert mail.outbox == []
    tokens = login(client)
    assert client.get("/api/reports/verified", headers=bearer(tokens)).status_code == 200
    meta = client.get("/api/meta", headers=bearer(tokens)).json()
    assert meta["email_verification"] is False
    address = client.get("/api/auth/email", headers=bearer(tokens)).json()
    assert address == {"email": EMAIL, "verification": False, "verified_at": None}


def test_a_required_verification_refuses_sign_in_until_the_link_is_opened(
    make_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    client = make_client(email_verification=False, require_verified_email=True)
    assert _register(client) == 202
    refused = client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert refused.status_code == 403
    assert refused.json()["code"] == "email_not_verified"
    assert "refresh_token" not in refused.json()
    wrong = client.post("/api/auth/login", json={"email": EMAIL, "password": "not the password"})
    assert wrong.status_code == 401  # only the password's holder learns it is unverified
    assert _verify(client, _link_token(mail)) == 204
    meta = client.get("/api/meta", headers=bearer(login(client))).json()
    assert (meta["email_verification"], meta["verified_email_required"]) == (True, True)


def test_a_link_can_be_asked_again_by_email_or_signed_in_and_is_throttled(
    make_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    client = make_client(address="127.0.0.1", trusted_proxies=["127.0.0.1/32"])
    assert _register(client) == 202
    sent = len(mail.outbox)
    unknown = client.post("/api/auth/verify-email/resend", json={"email": "nobody@example.com"})
    known = client.post("/api/auth/verify-email/resend", json={"email": EMAIL})
    assert (
        (unknown.status_code, unknown.content) == (known.status_code, known.content) == (202, b"")
    )
    assert len(mail.outbox) == sent + 1
    signed_in = client.post("/api/auth/verify-email/resend", json={}, headers=bearer(login(client)))
    assert signed_in.status_code == 202
    assert len(mail.outbox) == sent + 2
    # From this address, the route's limit (3/hour) is spent.
    assert client.post("/api/auth/verify-email/resend", json={"email": EMAIL}).status_code == 429
    # From another, the account's limit (3/hour) allows one more, then the same answer
    # and no mail.
    elsewhere = {"X-Forwarded-For": "192.0.2.7"}
    for sent_after in (sent + 3, sent + 3):
        answer = client.post(
            "/api/auth/verify-email/resend", json={"email": EMAIL}, headers=elsewhere
        )
        assert answer.status_code == 202
        assert len(mail.outbox) == sent_after
    anonymous = client.post("/api/auth/verify-email/resend", json={}, headers=elsewhere)
    assert anonymous.status_code == 422
    # Every link sent works until one is used.
    assert _verify(client, _link_token(mail)) == 204


def test_a_verified_address_gets_no_new_link(
    make_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    client = make_client()
    assert _register(client) == 202
    assert _verify(client, _link_token(mail)) == 204
    sent = len(mail.outbox)
    client.post("/api/auth/verify-email/resend", json={"email": EMAIL})
    assert len(mail.outbox) == sent


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: token + "x",
        lambda token: "",
        lambda token: "x" * 101,
        lambda token: token.upper(),
    ],
    ids=["last-character", "longer", "empty", "too-long", "case"],
)
def test_a_tampered_token_verifies_nothing(
    make_client: Callable[..., TestClient], mail: MemoryMailBackend, tamper: Callable[[str], str]
) -> None:
    client = make_client()
    assert _register(client) == 202
    token = _link_token(mail)
    assert _verify(client, tamper(token)) in (400, 422)
    assert _verify(client, token) == 204  # the real one still works


def test_a_token_verifies_only_the_account_and_address_it_was_sent_for(
    make_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    client = make_client()
    assert _register(client) == 202
    assert _register(client, "grace@example.com") == 202
    ada_token = _link_token(mail)
    assert _verify(client, ada_token) == 204
    grace = login(client, "grace@example.com")
    assert client.get("/api/auth/email", headers=bearer(grace)).json()["verified_at"] is None

    # A link for an address the account no longer has verifies nothing.
    token = _link_token(mail, "grace@example.com")
    users = client.app.state.auth.users(client.app.state.database)  # type: ignore[attr-defined]
    assert client.portal is not None
    client.portal.call(lambda: users.update(2, {"email": "grace.new@example.com"}))
    assert _verify(client, token) == 400


def test_a_token_expires_and_the_store_keeps_only_its_digest(
    make_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    client = make_client()
    assert _register(client) == 202
    token = _link_token(mail)
    auth = client.app.state.auth  # type: ignore[attr-defined]
    store: Store = auth.verifications.store
    assert client.portal is not None
    digest_key = "email-verify:" + hashlib.sha256(token.encode()).hexdigest()
    assert client.portal.call(store.get, digest_key) is not None
    assert client.portal.call(store.get, f"email-verify:{token}") is None
    assert auth.verifications.ttl == 86400
    client.portal.call(store.delete, digest_key)  # what its expiry does
    assert _verify(client, token) == 400


def test_an_answer_cached_for_a_verified_token_is_not_served_to_an_unverified_one(
    make_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    client = make_client()
    assert _register(client) == 202
    assert _verify(client, _link_token(mail)) == 204
    verified = bearer(login(client))
    first = client.get("/api/reports/verified", headers=verified)
    assert first.status_code == 200
    assert (
        client.get("/api/reports/verified", headers=verified)
        .headers["cache-status"]
        .endswith("hit")
    )
    # A token of the same session that says otherwise (one issued before the address
    # was verified, or after it changed) is refused, not answered from the cache.
    auth = client.app.state.auth  # type: ignore[attr-defined]
    claims = auth.tokens.verify(verified["Authorization"].split()[1])
    older = auth.tokens.issue(claims.subject, claims.session_id, [], email_verified=False)
    stale = client.get("/api/reports/verified", headers={"Authorization": f"Bearer {older.token}"})
    assert stale.status_code == 403


def test_a_changed_address_is_no_longer_verified_and_the_old_link_is_dead(
    make_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    client = make_client()
    assert _register(client) == 202
    assert _verify(client, _link_token(mail)) == 204
    users = client.app.state.auth.users(client.app.state.database)  # type: ignore[attr-defined]
    assert client.portal is not None
    client.portal.call(lambda: users.update(1, {"email": "ada.new@example.com"}))
    tokens = login(client, "ada.new@example.com")
    assert client.get("/api/auth/email", headers=bearer(tokens)).json()["verified_at"] is None
    assert client.get("/api/reports/verified", headers=bearer(tokens)).status_code == 403


def test_deleting_an_account_drops_its_verified_address(
    make_client: Callable[..., TestClient], mail: MemoryMailBackend
) -> None:
    client = make_client()
    assert _register(client) == 202
    assert _verify(client, _link_token(mail)) == 204
    app: Any = client.app
    verifications = EmailVerifications(app.state.database)
    assert client.portal is not None
    assert client.portal.call(verifications.verified_at, 1, EMAIL) is not None
    client.portal.call(app.state.auth.users(app.state.database).delete, 1)
    assert client.portal.call(verifications.verified_at, 1, EMAIL) is None
