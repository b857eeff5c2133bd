"""Drill: client addresses behind nginx, with `STACKKIT_TRUSTED_PROXIES` naming nginx's
address, and nothing else able to change them.

    visitor 127.0.0.N --> nginx on 127.0.0.1 --> the app (`stackkit run`), which trusts
                                                  127.0.0.1 to say who the client is

Each visitor connects from a loopback address of its own, so that nginx sees it, and
appends it to whatever `X-Forwarded-For` the visitor sent (as the generated
`deploy/nginx.conf` does). The app runs with `FORWARDED_ALLOW_IPS=*`: were uvicorn's
own proxy handling on, it would believe any header from anyone.

The last drill is the lockout that rotating addresses made possible: an attacker
behind the proxy spends the account's sign-in limit with wrong passwords, and the
owner's browser gets in all the same with its device cookie.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from e2e.server import Account, GeneratedAppServer, served
from faults.client import Client
from faults.conftest import throwaway
from faults.topology import NginxProcess

LIMIT = 5
"""Registrations one address may make in a minute (`AuthConfig.register_limit`)."""


class Proxied:
    """The app, and nginx in front of it."""

    def __init__(self, app: GeneratedAppServer, nginx: NginxProcess) -> None:
        self.app = app
        self.nginx = nginx


@pytest.fixture(scope="module")
def proxied(admin: Account) -> Iterator[Proxied]:
    # GeneratedAppServer sets STACKKIT_TRUSTED_PROXIES=127.0.0.1: nginx's address here.
    app = GeneratedAppServer(admin, settings={"FORWARDED_ALLOW_IPS": "*"})
    with served(app), throwaway(NginxProcess([f"127.0.0.1:{app.port}"])) as nginx:
        yield Proxied(app, nginx)


def new_account() -> dict[str, str]:
    return {
        "email": f"proxied-{secrets.token_hex(6)}@example.com",
        "password": f"proxied-{secrets.token_urlsafe(16)}",
    }


def registrations(url: str, source: str, count: int) -> list[int]:
    """The statuses of `count` registrations from `source`, each claiming in
    `X-Forwarded-For` to come from an address of its own."""
    return [
        Client(url, f"203.0.113.{n}", source=source)
        .send("POST", "/api/auth/register", json=new_account())
        .status
        for n in range(1, count + 1)
    ]


def test_the_client_address_is_the_one_nginx_forwards(proxied: Proxied) -> None:
    account = new_account()
    visitor = Client(proxied.nginx.url, "203.0.113.250", source="127.0.0.2")
    assert visitor.send("POST", "/api/auth/register", json=account).status == 201
    login = visitor.send("POST", "/api/auth/login", json=account)
    assert login.status == 200, login.body
    token = login.json()["access_token"]
    sessions = Client(proxied.nginx.url, "203.0.113.251", token, source="127.0.0.2").send(
        "GET", "/api/auth/sessions"
    )
    assert sessions.status == 200, sessions.body
    # Not nginx's 127.0.0.1, nor what the visitor wrote in X-Forwarded-For.
    assert [session["address"] for session in sessions.json()] == ["127.0.0.2"]


def test_rotating_x_forwarded_for_through_nginx_does_not_escape_the_limit(
    proxied: Proxied,
) -> None:
    assert registrations(proxied.nginx.url, "127.0.0.3", LIMIT + 3) == [201] * LIMIT + [429] * 3
    # Another visitor behind the same nginx has a budget of its own.
    assert registrations(proxied.nginx.url, "127.0.0.4", 1) == [201]


def test_x_forwarded_for_sent_straight_to_the_app_is_not_believed(proxied: Proxied) -> None:
    # 127.0.0.5 is no trusted proxy: its header is ignored, whatever uvicorn was told.
    assert registrations(proxied.app.url, "127.0.0.5", LIMIT + 3) == [201] * LIMIT + [429] * 3


def test_an_account_locked_through_nginx_still_lets_its_owners_browser_in(
    proxied: Proxied,
) -> None:
    account = new_account()
    owner = Client(proxied.nginx.url, "203.0.113.1", source="127.0.0.6")
    assert owner.send("POST", "/api/auth/register", json=account).status == 201
    first = owner.send("POST", "/api/auth/login", json=account)
    assert first.status == 200, first.body
    device = next(
        value.split(";")[0]
        for name, value in first.headers
        if name == "set-cookie" and value.startswith("stackkit_device=")
    )

    # The attacker, from an address of its own, rotating X-Forwarded-For.
    wrong = {**account, "password": "not the password"}
    guesses = [
        Client(proxied.nginx.url, f"203.0.113.{n}", source="127.0.0.7")
        .send("POST", "/api/auth/login", json=wrong)
        .status
        for n in range(1, 7)
    ]
    assert guesses[-1] == 429, guesses  # the account's limit: 5 a minute
    assert owner.send("POST", "/api/auth/login", json=account).status == 429

    with_cookie = owner.send("POST", "/api/auth/login", json=account, headers={"Cookie": device})
    assert with_cookie.status == 200, with_cookie.body
