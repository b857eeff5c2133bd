"""Hostile and broken credentials: every one is a 401 (`invalid_token`), never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.auth import AccessTokens, Auth, InvalidToken, TokenKeys
from stackkit.auth import tokens as tokens_module
from stackkit.auth.passwords import PasswordHasher
from stackkit.auth.tokens import DEFAULT_LEEWAY, MAX_TOKEN_LENGTH
from tests.auth.conftest import PASSWORD, bearer, login, register


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """A token signed by hand, so that nothing in a library refuses to make it."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _auth(client: TestClient) -> Auth:
    auth: Auth = client.app.state.auth  # type: ignore[attr-defined]
    return auth


def _valid_claims(client: TestClient, tokens: dict[str, Any]) -> dict[str, Any]:
    """The claims of a real token of this app, to alter one at a time."""
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})


def _sign(client: TestClient, claims: dict[str, Any], **header: Any) -> str:
    keys = _auth(client).tokens.keys
    headers = {"alg": "HS256", "kid": keys.signing_kid, "typ": "at+jwt", **header}
    return _hs256(
        {k: v for k, v in headers.items() if v is not None or k == "kid"}, claims, keys.signing_key
    )


def assert_refused(client: TestClient, authorization: str | bytes) -> None:
    response = client.get("/api/auth/me", headers={"Authorization": authorization})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


@pytest.fixture
def tokens(client: TestClient) -> dict[str, Any]:
    register(client)
    return dict(login(client))


def test_the_genuine_token_is_accepted(client: TestClient, tokens: dict[str, Any]) -> None:
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 200
    lower_case = {"Authorization": f"bearer {tokens['access_token']}"}
    assert client.get("/api/auth/me", headers=lower_case).status_code == 200


def test_a_token_naming_another_users_session_is_refused(
    client: TestClient, tokens: dict[str, Any]
) -> None:
    # Signed with the app's own key (as with a leaked SECRET_KEY), for user "999",
    # riding on ada's live session: the session is not that user's.
    claims = {**_valid_claims(client, tokens), "sub": "999", "jti": "other"}
    assert_refused(client, f"Bearer {_sign(client, claims)}")
    mine = {**_valid_claims(client, tokens), "jti": "mine"}
    assert (
        client.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {_sign(client, mine)}"}
        ).status_code
        == 200
    )


def test_alg_none_is_refused(client: TestClient, tokens: dict[str, Any]) -> None:
    claims = _valid_claims(client, tokens)
    kid = _auth(client).tokens.keys.signing_kid
    header = _b64(json.dumps({"alg": "none", "kid": kid, "typ": "at+jwt"}).encode())
    unsigned = f"{header}.{_b64(json.dumps(claims).encode())}."
    assert_refused(client, f"Bearer {unsigned}")


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("aud", "another-api"),
        ("iss", "someone-else"),
        ("exp", int(time.time()) - 3600),
        ("nbf", int(time.time()) + 3600),
        ("iat", int(time.time()) + 3600),
        ("sub", 42),
        ("sid", ""),
        ("roles", "admin"),
        ("exp", "tomorrow"),
        ("sid", "a-session-that-never-was"),
    ],
    ids=[
        "wrong-aud",
        "wrong-iss",
        "expired",
        "nbf-in-future",
        "iat-in-future",
        "sub-not-string",
        "empty-sid",
        "roles-not-list",
        "exp-not-number",
        "unknown-session",
    ],
)
def test_altered_claim_is_refused(
    client: TestClient, tokens: dict[str, Any], claim: str, value: Any
) -> None:
    claims = {**_valid_claims(client, tokens), claim: value}
    assert_refused(client, f"Bearer {_sign(client, claims)}")


@pytest.mark.parametrize("claim", ["sub", "sid", "exp", "iat", "nbf", "jti", "iss", "aud"])
def test_missing_claim_is_refused(client: TestClient, tokens: dict[str, Any], claim: str) -> None:
    claims = _valid_claims(client, tokens)
    del claims[claim]
    assert_refused(client, f"Bearer {_sign(client, claims)}")


@pytest.mark.parametrize(
    "header",
    [{"kid": "unknown"}, {"kid": 7}, {"kid": ["a"]}, {"kid": {"a": 1}}, {"kid": None}],
    ids=["unknown-kid", "int-kid", "list-kid", "object-kid", "null-kid"],
)
def test_bad_kid_is_refused(client: TestClient, tokens: dict[str, Any], header: Any) -> None:
    assert_refused(client, f"Bearer {_sign(client, _valid_claims(client, tokens), **header)}")


@pytest.mark.parametrize("typ", ["JWT", "refresh", None], ids=["jwt", "refresh", "none"])
def test_token_of_another_type_is_refused(
    client: TestClient, tokens: dict[str, Any], typ: str | None
) -> None:
    token = _sign(client, _valid_claims(client, tokens), typ=typ)
    assert_refused(client, f"Bearer {token}")


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_times_in_the_future_are_refused_past_the_leeway_only(claim: str) -> None:
    now = 1_900_000_000.0
    tokens = AccessTokens(TokenKeys.from_secret("s" * 32), clock=lambda: now)
    assert tokens.leeway == DEFAULT_LEEWAY == 5

    def minted(at: float) -> str:
        # With the real key, as a worker whose clock runs ahead would mint it.
        claims = {"sub": "7", "sid": "s", "jti": "j", "iat": now, "nbf": now, "exp": now + 900,
                  "iss": "stackkit", "aud": "stackkit", "roles": [], claim: at}  # fmt: skip
        headers = {"kid": tokens.keys.signing_kid, "typ": "at+jwt"}
        return jwt.encode(claims, tokens.keys.signing_key, algorithm="HS256", headers=headers)

    assert tokens.verify(minted(now + DEFAULT_LEEWAY)).subject == "7"
    with pytest.raises(InvalidToken, match="future" if claim == "iat" else "not valid yet"):
        tokens.verify(minted(now + DEFAULT_LEEWAY + 1))
    with pytest.raises(InvalidToken):
        tokens.verify(minted(now + 365 * 86400))


def test_expired_token_is_refused_even_once_verified(client: TestClient) -> None:
    register(client)
    tokens = login(client)
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 200
    access: AccessTokens = _auth(client).tokens
    access.clock = lambda: time.time() + 3600  # the verified token is remembered: time still counts
    assert_refused(client, f"Bearer {tokens['access_token']}")


def test_tampered_signature_and_payload_are_refused(
    client: TestClient, tokens: dict[str, Any]
) -> None:
    header, payload, signature = tokens["access_token"].split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert_refused(client, f"Bearer {header}.{payload}.{flipped}")
    claims = {**_valid_claims(client, tokens), "roles": ["admin"]}
    forged_payload = _b64(json.dumps(claims).encode())
    assert_refused(client, f"Bearer {header}.{forged_payload}.{signature}")


def test_refresh_token_is_not_an_access_token(client: TestClient, tokens: dict[str, Any]) -> None:
    assert_refused(client, f"Bearer {tokens['refresh_token']}")


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Basic YWRhOnNlY3JldA==",
        "Token abc",
        "Bearer a.b",
        "Bearer a.b.c",
        "Bearer ....",
        "Bearer e30.e30.e30",
        "Bearer W10.W10.W10",  # header and payload are JSON arrays
        "Bearer " + "x" * 10_000,
        "Bearer \u00e9\u00e8.\u00e0.\u00fc".encode("latin-1"),
    ],
    ids=[
        "no-token",
        "blank-token",
        "basic",
        "other-scheme",
        "two-parts",
        "not-base64-json",
        "empty-parts",
        "empty-objects",
        "arrays",
        "huge",
        "latin-1",
    ],
)
def test_malformed_authorization_is_refused(client: TestClient, authorization: str | bytes) -> None:
    assert_refused(client, authorization)


def test_public_route_answers_despite_a_bad_token(client: TestClient) -> None:
    response = client.get("/healthz", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 200


def test_no_credentials_is_a_plain_bearer_challenge(client: TestClient) -> None:
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_of_a_disabled_user_is_refused(client: TestClient) -> None:
    user = register(client)
    tokens = login(client)
    auth = _auth(client)
    users = auth.users(client.app.state.database)  # type: ignore[attr-defined]
    assert client.portal is not None
    client.portal.call(users.set_active, user["id"], False)
    assert_refused(client, f"Bearer {tokens['access_token']}")
    again = client.post("/api/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert again.status_code == 401
    assert again.json()["detail"] == "Invalid email or password."


def test_token_of_a_deleted_user_is_refused(client: TestClient) -> None:
    user = register(client)
    tokens = login(client)
    users = _auth(client).users(client.app.state.database)  # type: ignore[attr-defined]
    assert client.portal is not None
    client.portal.call(users.delete, user["id"])
    assert_refused(client, f"Bearer {tokens['access_token']}")
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401


def test_spent_refresh_token_ends_the_session_and_its_newest_token(client: TestClient) -> None:
    register(client)
    first = login(client)
    second = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    newest = second.json()
    _auth(client).refresh.clock = lambda: time.time() + 60  # past the grace period
    replay = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert "spent" in replay.json()["detail"]
    assert (
        client.post(
            "/api/auth/refresh", json={"refresh_token": newest["refresh_token"]}
        ).status_code
        == 401
    )
    assert_refused(client, f"Bearer {newest['access_token']}")
    assert_refused(client, f"Bearer {first['access_token']}")


def test_refresh_after_logout_is_refused(client: TestClient, tokens: dict[str, Any]) -> None:
    assert client.post("/api/auth/logout", headers=bearer(tokens)).status_code == 204
    response = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 401


@pytest.fixture
def rsa_files(tmp_path: Path) -> tuple[Path, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = tmp_path / "signing.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def test_hs256_signed_with_the_rs256_public_key_is_refused(
    make_auth_client: Callable[..., TestClient], rsa_files: tuple[Path, bytes]
) -> None:
    private, public_pem = rsa_files
    settings = Settings(
        env="test",
        database_url="sqlite:///:memory:",
        jwt_algorithm="RS256",
        jwt_private_key_file=private,
    )
    client = make_auth_client(settings)
    register(client)
    tokens = login(client)
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 200
    claims = _valid_claims(client, tokens)
    kid = _auth(client).tokens.keys.signing_kid
    confused = _hs256({"alg": "HS256", "kid": kid, "typ": "at+jwt"}, claims, public_pem)
    assert_refused(client, f"Bearer {confused}")


def test_verification_works_without_the_token_cache() -> None:
    tokens = AccessTokens(TokenKeys.from_secret("s" * 40), cache_size=0)
    issued = tokens.issue("42", "session", ["admin"])
    for _ in range(2):
        assert tokens.verify(issued.token).roles == frozenset({"admin"})
    with pytest.raises(InvalidToken):
        tokens.verify(issued.token + "x")


# Caps that keep hostile input away from the expensive code


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the `PasswordHasher` methods called, in order."""
    calls: list[str] = []
    for name in ("hash", "verify"):
        original = getattr(PasswordHasher, name)

        def counted(self: PasswordHasher, *args: Any, _name: str = name, _f: Any = original) -> Any:
            calls.append(_name)
            return _f(self, *args)

        monkeypatch.setattr(PasswordHasher, name, counted)
    return calls


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/api/auth/login",
         {"email": "ada@example.com", "password": "{long}"}, "password"),
        ("post", "/api/auth/register",
         {"email": "bo@example.com", "password": "{long}"}, "password"),
        ("post", "/api/auth/password",
         {"current_password": "{long}", "new_password": PASSWORD + "2"}, "current_password"),
        ("post", "/api/auth/password",
         {"current_password": PASSWORD, "new_password": "{long}"}, "new_password"),
        ("post", "/api/auth/password-reset/confirm",
         {"token": "x" * 40, "new_password": "{long}"}, "new_password"),
    ],
    ids=["login", "register", "change-current", "change-new", "reset"],
)  # fmt: skip
def test_a_password_over_1024_characters_is_refused_before_hashing(
    client: TestClient,
    tokens: dict[str, Any],
    hash_calls: list[str],
    method: str,
    path: str,
    body: dict[str, str],
    field: str,
) -> None:
    def send(password: str) -> Any:
        filled = {k: password if v == "{long}" else v for k, v in body.items()}
        return client.request(method, path, json=filled, headers=bearer(tokens))

    hash_calls.clear()
    refused = send("p" * 1025)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == [field]
    assert hash_calls == []
    # At the cap, the password reaches the usual checks (and, on sign-in, the hasher).
    at_cap = send("p" * 1024)
    assert at_cap.status_code != 422 or all(
        e["field"] == field and "1024" not in e["message"] for e in at_cap.json()["errors"]
    ), at_cap.text


def test_a_token_over_8192_characters_is_refused_before_decoding(
    client: TestClient, tokens: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A genuinely signed token, padded with a claim of its own, is taken up to the cap
    and refused past it without being decoded."""
    claims = _valid_claims(client, tokens)
    padded: dict[str, str] = {}
    pad = 0
    while True:
        token = _sign(client, {**claims, "pad": "x" * pad})
        if len(token) > MAX_TOKEN_LENGTH:
            padded["over"] = token
            break
        padded["within"] = token
        pad += 1
    assert MAX_TOKEN_LENGTH - 4 <= len(padded["within"]) <= MAX_TOKEN_LENGTH
    assert client.get("/api/auth/me", headers=bearer({"access_token": padded["within"]})).is_success

    decoded: list[str] = []
    original = tokens_module._DECODER.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return original(token, *args, **kwargs)

    monkeypatch.setattr(tokens_module._DECODER, "decode", counting)
    assert_refused(client, f"Bearer {padded['over']}")
    assert decoded == []
