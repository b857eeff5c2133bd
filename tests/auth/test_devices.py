"""Device cookies: a browser that signed in before gets past a lockout someone else
caused, and only that browser, for that account, a bounded number of times."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from stackkit import Settings
from stackkit.auth import AuthConfig, DeviceCookies, MemoryMailBackend
from stackkit.auth.user import User
from stackkit.cache import MemoryStore, RedisStore, Store
from stackkit.testing import delete_keys, unique_key_prefix
from tests.auth.conftest import PASSWORD, register
from tests.conftest import STORE_TIMEOUT

SECRET = "device-cookie-tests-secret-0123456789-abcdefghij"
OTHER_SECRET = "another-apps-secret-0123456789-abcdefghijklmnop"
VICTIM = "ada@example.com"
DEVICE = "stackkit_device"
# The app stands behind a proxy at 127.0.0.1, which says who each client is: the
# attacker gets as many addresses as it likes, none of which meets its per-address limit.
PROXY = "127.0.0.1"


def _client(
    make_auth_client: Callable[..., TestClient],
    settings: dict[str, Any] | None = None,
    **config: Any,
) -> TestClient:
    options = {"env": "test", "database_url": "sqlite:///:memory:", **(settings or {})}
    return make_auth_client(
        Settings(secret_key=SECRET, trusted_proxies=[PROXY], **options),
        config=AuthConfig(User, login_limit_per_account="3/minute", **config),
        address=PROXY,
    )


def sign_in(
    client: TestClient,
    password: str,
    *,
    address: str,
    device: str | None = None,
    email: str = VICTIM,
) -> httpx.Response:
    """POST /api/auth/login from `address`, with the device cookie `device` and no other."""
    client.cookies.clear()  # only the cookie given: the attacker's browser is not the victim's
    headers = {"X-Forwarded-For": address}
    if device is not None:
        headers["Cookie"] = f"{DEVICE}={device}"
    credentials = {"email": email, "password": password}
    response = client.post("/api/auth/login", json=credentials, headers=headers)
    client.cookies.clear()
    return response


def lock_out(client: TestClient, email: str = VICTIM) -> None:
    """Wrong passwords for `email`, each from an address of its own, until the account's
    limit refuses."""
    statuses = [
        sign_in(client, "not the password", address=f"203.0.113.{n}", email=email).status_code
        for n in range(1, 5)
    ]
    assert statuses[-1] == 429, statuses
    assert sign_in(client, PASSWORD, address="198.51.100.99", email=email).status_code == 429


def device_cookie_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    value = response.cookies.get(DEVICE)
    assert value, response.headers.get_list("set-cookie")
    return value


def test_a_device_cookie_gets_its_owner_past_a_lockout_an_attacker_caused(
    make_auth_client: Callable[..., TestClient], service_settings: dict[str, Any]
) -> None:
    client = _client(make_auth_client, service_settings)
    register(client)
    device = device_cookie_of(sign_in(client, PASSWORD, address="198.51.100.1"))

    lock_out(client)

    # Without the cookie the owner is locked out like anyone; with it, not.
    assert sign_in(client, PASSWORD, address="198.51.100.1").status_code == 429
    signed_in = sign_in(client, PASSWORD, address="198.51.100.1", device=device)
    renewed = device_cookie_of(signed_in)
    assert "access_token" in signed_in.json()
    assert renewed != device  # each success hands out a new one
    assert sign_in(client, PASSWORD, address="198.51.100.1", device=renewed).status_code == 200


def _issued(secret: str, email: str, *, issued_ago: float = 0, ttl: float = 3600) -> str:
    devices = DeviceCookies(
        MemoryStore(), secret_keys=[secret], ttl=ttl, clock=lambda: time.time() - issued_ago
    )
    return devices.issue(email).value


def _forged(value: str) -> str:
    nonce, expires_at, mac = value.split(".")
    return f"{nonce}.{expires_at}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"


def _stretched(value: str) -> str:
    nonce, expires_at, mac = value.split(".")
    return f"{nonce}.{int(expires_at) + 86400}.{mac}"


@pytest.mark.parametrize(
    "make_cookie",
    [
        lambda own: _forged(own),
        lambda own: _stretched(_issued(SECRET, VICTIM, issued_ago=7200)),
        lambda own: _issued(SECRET, VICTIM, issued_ago=7200),
        lambda own: _issued(SECRET, "bob@example.com"),
        lambda own: _issued(OTHER_SECRET, VICTIM),
        lambda own: "not-a-device-cookie",
        lambda own: own + "." + own,
        lambda own: "x" * 500,
    ],
    ids=[
        "forged-mac",
        "expiry-moved",
        "expired",
        "another-account",
        "another-secret",
        "garbage",
        "too-many-parts",
        "too-long",
    ],
)
def test_a_device_cookie_that_does_not_fit_is_no_device_cookie(
    make_auth_client: Callable[..., TestClient], make_cookie: Callable[[str], str]
) -> None:
    client = _client(make_auth_client)
    register(client)
    own = device_cookie_of(sign_in(client, PASSWORD, address="198.51.100.1"))
    lock_out(client)
    response = sign_in(client, PASSWORD, address="198.51.100.1", device=make_cookie(own))
    assert response.status_code == 429


def test_another_accounts_device_cookie_from_a_real_sign_in_does_not_help(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = _client(make_auth_client)
    register(client)
    register(client, "mallory@example.com")
    mallorys = device_cookie_of(
        sign_in(client, PASSWORD, address="203.0.113.200", email="mallory@example.com")
    )
    lock_out(client)
    assert sign_in(client, PASSWORD, address="203.0.113.200", device=mallorys).status_code == 429


def test_a_device_cookie_with_too_many_failures_stops_helping(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = _client(make_auth_client, device_cookie_attempts=3)
    register(client)
    device = device_cookie_of(sign_in(client, PASSWORD, address="198.51.100.1"))
    lock_out(client)

    # Guesses with the cookie are counted against it, not refused by the lockout...
    guesses = [
        sign_in(client, "a wrong guess", address="198.51.100.1", device=device).status_code
        for _ in range(3)
    ]
    assert guesses == [401, 401, 401]
    # ...until it has vouched for 3 sign-ins: now it is one more client of a locked account.
    assert sign_in(client, PASSWORD, address="198.51.100.1", device=device).status_code == 429


def test_the_device_cookie_is_httponly_strict_and_scoped_to_the_auth_routes(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = _client(make_auth_client)
    register(client)
    response = sign_in(client, PASSWORD, address="198.51.100.1")
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{DEVICE}=")]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"httponly", "secure", "samesite", "path", "max-age"} <= attributes
    assert "SameSite=strict" in header or "SameSite=Strict" in header
    assert "Path=/api/auth" in header
    assert f"Max-Age={30 * 86400}" in header


def test_the_device_cookie_is_secure_as_the_setting_says(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = _client(make_auth_client, {"refresh_cookie_secure": False})
    register(client)
    response = sign_in(client, PASSWORD, address="198.51.100.1")
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{DEVICE}=")]
    assert "secure" not in header.lower()


def test_device_cookies_can_be_turned_off(make_auth_client: Callable[..., TestClient]) -> None:
    client = _client(make_auth_client, device_cookie_attempts=0)
    register(client)
    response = sign_in(client, PASSWORD, address="198.51.100.1")
    assert response.status_code == 200
    assert DEVICE not in response.cookies
    lock_out(client)
    cookie = _issued(SECRET, VICTIM)
    assert sign_in(client, PASSWORD, address="198.51.100.1", device=cookie).status_code == 429


# DeviceCookies on its own


def test_a_device_cookie_is_checked_against_the_normalised_email() -> None:
    devices = DeviceCookies(MemoryStore(), secret_keys=[SECRET])
    cookie = devices.issue("Ada@Example.com ")
    assert devices.verify(cookie.value, "ada@example.com") == cookie
    assert devices.verify(cookie.value, "bob@example.com") is None


def test_a_device_cookie_outlives_a_secret_key_rotation() -> None:
    before = DeviceCookies(MemoryStore(), secret_keys=[OTHER_SECRET]).issue(VICTIM)
    after = DeviceCookies(MemoryStore(), secret_keys=[SECRET, OTHER_SECRET])
    assert after.verify(before.value, VICTIM) is not None
    # Once the old key is dropped, its cookies are no longer ours.
    assert DeviceCookies(MemoryStore(), secret_keys=[SECRET]).verify(before.value, VICTIM) is None


def test_concurrent_sign_ins_with_one_cookie_get_no_more_than_its_attempts() -> None:
    devices = DeviceCookies(MemoryStore(), secret_keys=[SECRET], attempts=3)
    cookie = devices.issue(VICTIM)

    async def admit_all() -> list[bool]:
        return await asyncio.gather(*(devices.admit(cookie.value, VICTIM) for _ in range(20)))

    assert sum(asyncio.run(admit_all())) == 3


def test_a_device_cookie_does_not_lift_the_per_address_limit(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = _client(make_auth_client, login_limit_per_address="4/minute")
    register(client)
    device = device_cookie_of(sign_in(client, PASSWORD, address="198.51.100.1"))
    guesses = [
        sign_in(client, "a wrong guess", address="198.51.100.1", device=device).status_code
        for _ in range(3)
    ]
    assert guesses == [401, 401, 401]  # the address's 4 attempts, the cookie's first 3
    # The cookie would vouch for more, but the address has spent its limit.
    assert sign_in(client, PASSWORD, address="198.51.100.1", device=device).status_code == 429
    assert sign_in(client, PASSWORD, address="198.51.100.2", device=device).status_code == 200


def test_a_lockout_leaves_the_sessions_already_signed_in_alone(
    make_auth_client: Callable[..., TestClient],
) -> None:
    client = _client(make_auth_client)
    register(client)
    tokens = sign_in(client, PASSWORD, address="198.51.100.1").json()
    lock_out(client)
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200


@pytest.mark.parametrize("ending", ["log-out-everywhere", "password-reset"])
def test_ending_every_session_leaves_device_cookies_alone(
    make_auth_client: Callable[..., TestClient], mail: MemoryMailBackend, ending: str
) -> None:
    client = _client(make_auth_client)
    register(client)
    signed_in = sign_in(client, PASSWORD, address="198.51.100.1")
    device, tokens = device_cookie_of(signed_in), signed_in.json()
    password = PASSWORD
    if ending == "log-out-everywhere":
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert client.delete("/api/auth/sessions", headers=bearer).status_code == 204
    else:
        headers = {"X-Forwarded-For": "198.51.100.1"}
        client.post("/api/auth/password-reset", json={"email": VICTIM}, headers=headers)
        token = mail.outbox[-1].text.split("#token=")[1].split()[0]
        password = "a brand new passphrase"
        confirm = {"token": token, "new_password": password}
        assert client.post("/api/auth/password-reset/confirm", json=confirm).status_code == 204
    lock_out(client)
    # The cookie still vouches: it signs nobody in, the password still has to be right.
    assert sign_in(client, PASSWORD if ending == "password-reset" else "a wrong guess",
                   address="198.51.100.1", device=device).status_code == 401  # fmt: skip
    assert sign_in(client, password, address="198.51.100.1", device=device).status_code == 200


@pytest.fixture(params=["memory", "redis"])
async def device_stores(request: pytest.FixtureRequest) -> AsyncIterator[list[Store]]:
    """The stores of two workers: one process's own memory, or two clients of one Redis."""
    prefix = unique_key_prefix()
    if request.param == "memory":
        yield [MemoryStore(prefix=prefix)] * 2
        return
    url = request.getfixturevalue("redis_url")
    stores = [RedisStore(url, prefix=prefix, timeout=STORE_TIMEOUT) for _ in range(2)]
    for store in stores:
        await store.open()
    try:
        yield list(stores)
    finally:
        for store in stores:
            await store.close()
        delete_keys(url, prefix)


async def test_a_cookies_count_is_exact_across_the_workers_that_share_a_store(
    device_stores: list[Store],
) -> None:
    workers = [DeviceCookies(store, secret_keys=[SECRET], attempts=10) for store in device_stores]
    cookie = workers[0].issue(VICTIM).value
    admitted = await asyncio.gather(*(workers[n % 2].admit(cookie, VICTIM) for n in range(40)))
    assert sum(admitted) == 10


async def test_in_memory_an_evicted_count_starts_again() -> None:
    store = MemoryStore(max_entries=3)
    devices = DeviceCookies(store, secret_keys=[SECRET], attempts=2)
    cookie = devices.issue(VICTIM).value
    assert [await devices.admit(cookie, VICTIM) for _ in range(3)] == [True, True, False]
    for n in range(3):  # a flood of other keys pushes the count out
        await store.set(f"other-{n}", b"x")
    assert await devices.admit(cookie, VICTIM)


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_a_device_cookie_is_a_nonce_its_expiry_and_their_mac() -> None:
    """The format cookies already issued carry: a change signs out every remembered
    device. The MAC is HMAC-SHA256, under a key of its own derived from the secret, of
    the normalised email, the nonce and the expiry, NUL-separated, base64url unpadded."""
    devices = DeviceCookies(MemoryStore(), secret_keys=[SECRET], ttl=3600, clock=lambda: 1000.0)
    cookie = devices.issue("Ada@Example.com")
    nonce, expires_at, mac = cookie.value.split(".")
    assert (nonce, int(expires_at)) == (cookie.nonce, 4600)
    assert len(base64.urlsafe_b64decode(nonce)) == 18  # 144 random bits
    key = hmac.new(SECRET.encode(), b"stackkit device cookies v1", hashlib.sha256).digest()
    message = b"\x00".join([b"ada@example.com", nonce.encode(), b"4600"])
    assert mac == _b64(hmac.new(key, message, hashlib.sha256).digest())


@pytest.mark.parametrize(("left", "ttl"), [(3000.0, 3000.0), (0.25, 1.0)])
def test_a_cookies_count_lives_as_long_as_the_cookie_and_at_least_a_second(
    left: float, ttl: float
) -> None:
    now = [1000.0]
    store = MemoryStore()
    devices = DeviceCookies(store, secret_keys=[SECRET], ttl=3600, clock=lambda: now[0])
    cookie = devices.issue(VICTIM)
    now[0] = cookie.expires_at - left
    assert asyncio.run(devices.admit(cookie.value, VICTIM))
    expires_in = asyncio.run(store.expires_in(f"device-signins:{cookie.nonce}"))
    assert expires_in is not None
    assert ttl - 1 < expires_in <= ttl


@pytest.mark.parametrize(
    "value",
    ["ads\u00e9.4600.mac", "nonce.soon.mac", "nonce.46O0.mac", "nonce.1234567890123.mac"],
    ids=["not-ascii", "expiry-not-a-number", "expiry-with-a-letter", "expiry-of-13-digits"],
)
def test_a_cookie_of_another_shape_is_none(value: str) -> None:
    devices = DeviceCookies(MemoryStore(), secret_keys=[SECRET], clock=lambda: 1000.0)
    assert devices.verify(value, VICTIM) is None


def test_a_cookie_ends_at_its_expiry() -> None:
    now = [1000.0]
    devices = DeviceCookies(MemoryStore(), secret_keys=[SECRET], ttl=3600, clock=lambda: now[0])
    cookie = devices.issue(VICTIM)
    now[0] = 4599.5
    assert devices.verify(cookie.value, VICTIM) == cookie
    now[0] = 4600.0
    assert devices.verify(cookie.value, VICTIM) is None


def test_device_cookies_count_10_attempts_unless_told_and_need_a_secret() -> None:
    assert DeviceCookies(MemoryStore(), secret_keys=[SECRET]).attempts == 10
    with pytest.raises(ValueError, match=r"^device cookies need a secret key to sign them$"):
        DeviceCookies(MemoryStore(), secret_keys=[])
    assert not DeviceCookies(MemoryStore(), secret_keys=[], attempts=0).enabled
