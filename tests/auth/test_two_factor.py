"""Two-factor sign-in: enrolment with a first code, the second step of a sign-in with
a short-lived challenge, codes that work once, recovery codes, trusted devices, and
turning it off with the password and a code."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.auth.tables import recovery_codes, two_factor
from tests.auth.conftest import PASSWORD, bearer, login, register
from tests.auth.test_admin_users import add_user

EMAIL = "ada@example.com"
FACTOR = "/api/auth/two-factor"


def _client(make: Callable[..., TestClient], settings: dict[str, Any]) -> TestClient:
    return make(Settings(env="test", **settings))


def enrol(client: TestClient, headers: dict[str, str]) -> tuple[pyotp.TOTP, list[str]]:
    """Two-factor sign-in turned on; the app's generator and the recovery codes."""
    setup = client.post(f"{FACTOR}/setup", json={"password": PASSWORD}, headers=headers)
    assert setup.status_code == 200, setup.text
    assert setup.headers["cache-control"] == "no-store"
    totp = pyotp.TOTP(setup.json()["secret"])
    assert setup.json()["uri"] == totp.provisioning_uri(name=EMAIL, issuer_name="stackkit app")
    enabled = client.post(f"{FACTOR}/enable", json={"code": totp.now()}, headers=headers)
    assert enabled.status_code == 200, enabled.text
    return totp, enabled.json()["recovery_codes"]


def next_code(totp: pyotp.TOTP) -> str:
    """A code of the next time step: the current one was spent by the step before."""
    return totp.at(time.time() + 30)


def first_step(client: TestClient, email: str = EMAIL) -> str:
    answer = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["two_factor_required"] is True
    assert "access_token" not in body
    assert answer.headers.get("set-cookie") is None  # no session, no refresh cookie
    return str(body["challenge"])


def second_step(client: TestClient, challenge: str, code: str, **more: Any) -> Any:
    return client.post(
        "/api/auth/login/two-factor", json={"challenge": challenge, "code": code, **more}
    )


def _rows(client: TestClient, table: Any) -> list[Any]:
    async def read() -> list[Any]:
        async with client.app.state.database.session(read_only=True) as session:  # type: ignore[attr-defined]
            return list((await session.execute(select(table))).mappings().all())

    assert client.portal is not None
    return client.portal.call(read)


def test_a_user_enrols_and_then_signs_in_with_a_code(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    register(client)
    session = bearer(login(client))
    assert client.get(FACTOR, headers=session).json()["enabled"] is False
    totp, codes = enrol(client, session)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    status = client.get(FACTOR, headers=session).json()
    assert (status["enabled"], status["recovery_codes_left"]) == (True, 10)

    # Stored encrypted, the codes as digests.
    (row,) = _rows(client, two_factor)
    assert totp.secret not in row["secret"]
    assert {r["digest"] for r in _rows(client, recovery_codes)}.isdisjoint(codes)

    challenge = first_step(client)
    signed_in = second_step(client, challenge, next_code(totp))
    assert signed_in.status_code == 200, signed_in.text
    assert client.get("/api/auth/me", headers=bearer(signed_in.json())).status_code == 200
    events = [e["event"] for e in client.get("/api/auth/audit", headers=session).json()["items"]]
    assert events[:2] == ["signin.succeeded", "two_factor.enabled"]


def test_a_code_works_once_and_a_challenge_once(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    register(client)
    totp, _ = enrol(client, bearer(login(client)))
    code = next_code(totp)
    challenge = first_step(client)
    assert second_step(client, challenge, code).status_code == 200
    # The same code again, on a new challenge: refused (replay within its window).
    again = second_step(client, first_step(client), code)
    assert again.status_code == 401
    assert "used already" in again.json()["detail"]
    # The spent challenge, with a good code: refused.
    later = totp.at(time.time() + 60)
    assert second_step(client, challenge, later).status_code == 401


def test_the_challenge_is_no_token_and_the_first_step_gives_none(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    register(client)
    enrol(client, bearer(login(client)))
    challenge = first_step(client)
    as_token = client.get("/api/auth/me", headers={"Authorization": f"Bearer {challenge}"})
    assert as_token.status_code == 401
    as_refresh = client.post("/api/auth/refresh", json={"refresh_token": challenge})
    assert as_refresh.status_code == 401


def test_wrong_codes_kill_the_challenge_are_audited_and_count_against_the_account(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    register(client)
    session = bearer(login(client))
    totp, _ = enrol(client, session)
    challenge = first_step(client)
    wrong = "000000" if totp.now() != "000000" else "111111"
    statuses = [second_step(client, challenge, wrong).status_code for _ in range(5)]
    assert statuses == [401] * 5
    # The sixth try, with the right code: the challenge is dead.
    dead = second_step(client, challenge, next_code(totp))
    assert dead.status_code == 401
    assert "sign in again" in dead.json()["detail"]
    events = client.get("/api/auth/audit", headers=session).json()["items"]
    failed = [e for e in events if e["event"] == "signin.failed"]
    assert len(failed) == 5
    assert failed[0]["details"] == {"reason": "wrong code"}


def test_guessing_codes_across_challenges_is_throttled_per_account(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    register(client)
    totp, _ = enrol(client, bearer(login(client)))
    wrong = "000000" if totp.now() != "000000" else "111111"
    answers = []
    for _ in range(3):
        challenge = first_step(client)
        answers += [second_step(client, challenge, wrong).status_code for _ in range(2)]
    # The account's limit (5 a minute) stops the sixth code, whatever the challenge.
    assert answers[:5] == [401] * 5
    assert answers[5] == 429


def test_a_recovery_code_signs_in_once_and_is_recorded(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    register(client)
    session = bearer(login(client))
    _, codes = enrol(client, session)
    typed = codes[3].upper().replace("-", " ")  # as a user may type it
    assert second_step(client, first_step(client), typed).status_code == 200
    assert second_step(client, first_step(client), codes[3]).status_code == 401
    assert client.get(FACTOR, headers=session).json()["recovery_codes_left"] == 9
    events = [e["event"] for e in client.get("/api/auth/audit", headers=session).json()["items"]]
    assert "two_factor.recovery_code_used" in events


def test_a_trusted_browser_skips_the_code_until_it_is_forgotten(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    register(client)
    session = bearer(login(client))
    totp, _ = enrol(client, session)
    trusted = second_step(client, first_step(client), next_code(totp), trust_device=True)
    assert trusted.status_code == 200
    cookie = client.cookies.get("stackkit_trusted_device")
    assert cookie
    skipped = client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert "access_token" in skipped.json()
    devices = client.get(f"{FACTOR}/devices", headers=bearer(skipped.json())).json()
    assert [d["id"] for d in devices] == [cookie]
    assert client.delete(f"{FACTOR}/devices/{cookie}", headers=session).status_code == 204
    assert (
        client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD}).json()[
            "two_factor_required"
        ]
        is True
    )


def test_turning_it_off_needs_the_password_and_a_code(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    register(client)
    session = bearer(login(client))
    totp, _ = enrol(client, session)
    code = next_code(totp)
    no_password = client.post(
        f"{FACTOR}/disable", json={"password": "not it at all", "code": code}, headers=session
    )
    assert no_password.status_code == 422
    assert no_password.json()["errors"][0]["field"] == "password"
    no_code = client.post(
        f"{FACTOR}/disable", json={"password": PASSWORD, "code": "12345"}, headers=session
    )
    assert no_code.status_code == 422
    assert no_code.json()["errors"][0]["field"] == "code"
    off = client.post(
        f"{FACTOR}/disable", json={"password": PASSWORD, "code": code}, headers=session
    )
    assert off.status_code == 204
    assert "access_token" in login(client)
    assert _rows(client, two_factor) == []
    assert _rows(client, recovery_codes) == []


def test_new_recovery_codes_replace_the_old(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    register(client)
    session = bearer(login(client))
    totp, old = enrol(client, session)
    made = client.post(
        f"{FACTOR}/recovery-codes",
        json={"password": PASSWORD, "code": next_code(totp)},
        headers=session,
    )
    assert made.status_code == 200, made.text
    new = made.json()["recovery_codes"]
    assert set(new).isdisjoint(old)
    assert second_step(client, first_step(client), old[0]).status_code == 401
    assert second_step(client, first_step(client), new[0]).status_code == 200


def test_enrolment_needs_the_password_and_a_right_first_code(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = make_auth_client()
    register(client)
    session = bearer(login(client))
    wrong = client.post(f"{FACTOR}/setup", json={"password": "nope nope nope"}, headers=session)
    assert wrong.status_code == 422
    setup = client.post(f"{FACTOR}/setup", json={"password": PASSWORD}, headers=session)
    totp = pyotp.TOTP(setup.json()["secret"])
    bad = "000000" if totp.now() != "000000" else "111111"
    refused = client.post(f"{FACTOR}/enable", json={"code": bad}, headers=session)
    assert refused.status_code == 422
    assert client.get(FACTOR, headers=session).json()["enabled"] is False
    assert "access_token" in login(client)  # not on until a right code
    enabled = client.post(f"{FACTOR}/enable", json={"code": totp.now()}, headers=session)
    assert enabled.status_code == 200
    again = client.post(f"{FACTOR}/setup", json={"password": PASSWORD}, headers=session)
    assert again.status_code == 409


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "0" * 33])
def test_odd_codes_are_refused_plainly(
    make_auth_client: Callable[..., TestClient], code: str
) -> None:
    client = make_auth_client()
    register(client)
    enrol(client, bearer(login(client)))
    answer = second_step(client, first_step(client), code)
    assert answer.status_code in (401, 422)
    assert answer.headers["content-type"] == "application/problem+json"


def test_a_role_that_needs_two_factor_counts_only_once_it_is_on(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = make_auth_client(Settings(env="test", require_2fa_for="admin", **service_settings))
    add_user(client, EMAIL, ("admin",))
    tokens = login(client)
    session = bearer(tokens)
    assert client.get("/api/auth/users", headers=session).status_code == 403
    assert client.get(FACTOR, headers=session).json()["required_for"] == ["admin"]
    key = client.post(
        "/api/auth/api-keys", json={"name": "admin key", "roles": ["admin"]}, headers=session
    ).json()
    as_key = {"Authorization": f"Bearer {key['key']}"}
    assert client.get("/api/auth/users", headers=as_key).status_code == 403

    totp, _ = enrol(client, session)
    # The next tokens carry the role; so does the key, at once.
    renewed = client.post(
        "/api/auth/refresh",
        json={"refresh_token": tokens["refresh_token"]},
        headers={"Origin": "https://testserver"},
    )
    assert renewed.status_code == 200, renewed.text
    assert client.get("/api/auth/users", headers=bearer(renewed.json())).status_code == 200
    assert client.get("/api/auth/users", headers=as_key).status_code == 200

    # And it cannot be turned off while the role needs it.
    off = client.post(
        f"{FACTOR}/disable",
        json={"password": PASSWORD, "code": next_code(totp)},
        headers=bearer(renewed.json()),
    )
    assert off.status_code == 409
    assert "needs two-factor" in off.json()["detail"]


def test_secrets_encrypted_under_a_retired_key_still_work_and_move_to_the_new_one(
    make_auth_client: Callable[..., TestClient],
) -> None:
    old_key, new_key = "o" * 40, "n" * 40
    database = f"sqlite:///{tempfile.mkdtemp()}/app.db"
    first = make_auth_client(Settings(env="test", database_url=database, secret_key=old_key))
    register(first)
    totp, _ = enrol(first, bearer(login(first)))
    first.__exit__(None, None, None)
    (before,) = _rows_at(database)

    rotated = make_auth_client(
        Settings(
            env="test", database_url=database, secret_key=new_key, secret_key_fallbacks=old_key
        )
    )
    assert second_step(rotated, first_step(rotated), next_code(totp)).status_code == 200
    (after,) = _rows_at(database)
    assert after["secret"] != before["secret"]  # encrypted anew, under the new key

    # The fallback gone, the secret still decrypts; a minute later (a step not spent yet).
    alone = make_auth_client(Settings(env="test", database_url=database, secret_key=new_key))
    alone.app.state.auth.two_factor.clock = lambda: time.time() + 60  # type: ignore[attr-defined]
    later = totp.at(time.time() + 60)
    assert second_step(alone, first_step(alone), later).status_code == 200


def _rows_at(database_url: str) -> list[Any]:
    import sqlite3

    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute("SELECT * FROM stackkit_two_factor")]
