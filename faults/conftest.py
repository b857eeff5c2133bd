"""Fixtures of the drills: a generated app served by `stackkit run`, its admin, clients.

Run them with `tox -e faults` (or `pytest faults`). The main `pytest` run does not
collect them: `testpaths` in pyproject.toml leaves this folder out.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote

import pytest

from e2e.server import Account, GeneratedAppServer, served
from faults.client import Client
from stackkit.testing import skip_or_fail, wait_until
from stackkit.testing.process import ThrowawayServer

__all__ = [
    "UNLIMITED",
    "AdminTokens",
    "ServerLog",
    "SignedUp",
    "all_notes",
    "log_in",
    "sign_up",
    "throwaway",
]

UNLIMITED = {"STACKKIT_RATE_LIMIT": "100000/minute"}
"""A default rate limit that a bounded load cannot spend: for drills that are not about
rate limits, so that they see no 429s."""

_server = pytest.StashKey[GeneratedAppServer]()
_WHOLE_LOG = 1 << 40
"""`output()` gives the last bytes of the log: this many is all of it."""


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add the end of the servers' output to the report of a failed test: the session's
    app, and those of the test's own fixtures."""
    report: pytest.TestReport = yield
    if report.failed and report.when == "call":
        servers = {"app": item.config.stash.get(_server, None)}
        funcargs = getattr(item, "funcargs", {})
        servers |= {n: v for n, v in funcargs.items() if isinstance(v, GeneratedAppServer)}
        for name, server in servers.items():
            if server is not None and server.running:
                report.sections.append((f"{name}: server output (its end)", server.output()))
    return report


_Server = TypeVar("_Server", bound=ThrowawayServer)


@contextmanager
def throwaway(server: _Server) -> Iterator[_Server]:
    """`server` (a Redis, a PostgreSQL of a drill's own) started, and stopped after. The
    drill is skipped when its binaries are missing, or fails if services are required."""
    reason = server.unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    with server:
        yield server


@pytest.fixture(scope="session")
def admin() -> Account:
    """The admin `stackkit user create --admin` made."""
    return Account("admin@example.com", f"faults-{secrets.token_urlsafe(12)}")


@pytest.fixture(scope="session")
def app_server(request: pytest.FixtureRequest, admin: Account) -> Iterator[GeneratedAppServer]:
    """The generated app (SQLite, no Redis), served by `stackkit run` for the session."""
    with served(GeneratedAppServer(admin), request.config, _server) as server:
        yield server


@pytest.fixture(scope="session")
def base_url(app_server: GeneratedAppServer) -> str:
    return app_server.url


@pytest.fixture(scope="session")
def addresses() -> Iterator[str]:
    """Client addresses, a new one for each visitor: each has rate limits of its own."""
    return (f"198.18.{n // 256}.{n % 256}" for n in itertools.count(1))


@pytest.fixture
def client(base_url: str, addresses: Iterator[str]) -> Client:
    """An anonymous visitor of its own."""
    return Client(base_url, next(addresses))


def log_in(base_url: str, account: Account, address: str) -> dict[str, str]:
    """POST /api/auth/login as `account` from `address`: the token pair.

    Raises:
        AssertionError: the app did not answer 200.
    """
    answer = Client(base_url, address).send(
        "POST", "/api/auth/login", json={"email": account.email, "password": account.password}
    )
    assert answer.status == 200, answer.body
    pair: dict[str, str] = answer.json()
    return pair


class AdminTokens:
    """Fresh access tokens of the admin: one sign-in, then a refresh for each token.

    A sign-in each time would run into the per-account limit of sign-ins (5/minute).
    """

    def __init__(self, base_url: str, admin: Account, addresses: Iterator[str]) -> None:
        self.base_url = base_url
        self.admin = admin
        self.addresses = addresses
        self.refresh_token: str | None = None

    def next(self) -> str:
        address = next(self.addresses)
        if self.refresh_token is None:
            pair = log_in(self.base_url, self.admin, address)
        else:
            answer = Client(self.base_url, address).send(
                "POST", "/api/auth/refresh", json={"refresh_token": self.refresh_token}
            )
            assert answer.status == 200, answer.body
            pair = answer.json()
        self.refresh_token = pair["refresh_token"]
        return pair["access_token"]


@pytest.fixture(scope="session")
def admin_tokens(base_url: str, admin: Account, addresses: Iterator[str]) -> AdminTokens:
    return AdminTokens(base_url, admin, addresses)


@pytest.fixture
def access_token(admin_tokens: AdminTokens) -> str:
    """A fresh access token of the admin."""
    return admin_tokens.next()


class SignedUp(NamedTuple):
    """A new user: their account, a client with their access token, their token pair."""

    account: Account
    client: Client
    tokens: dict[str, str]


def sign_up(base_url: str, address: str) -> SignedUp:
    """Register a new user from `address` and sign them in.

    Raises:
        AssertionError: the app did not answer 201, then 200.
    """
    account = Account(
        f"drill-{secrets.token_hex(6)}@example.com", f"drill-{secrets.token_urlsafe(16)}"
    )
    credentials = {"email": account.email, "password": account.password}
    answer = Client(base_url, address).send("POST", "/api/auth/register", json=credentials)
    assert answer.status == 201, answer.body
    tokens = log_in(base_url, account, address)
    return SignedUp(account, Client(base_url, address, tokens["access_token"]), tokens)


@pytest.fixture
def user_client(base_url: str, addresses: Iterator[str]) -> Client:
    """A user of its own, registered and signed in, as a visitor of its own.

    Rate limits count per user once signed in (100 requests a minute by default), and a
    user sees only their own notes: so each test has a budget and notes of its own.
    """
    return sign_up(base_url, next(addresses)).client


class ServerLog:
    """What the server wrote to its output since the fixture was made."""

    def __init__(self, server: GeneratedAppServer) -> None:
        self.server = server
        self.start = len(server.output(_WHOLE_LOG))

    def text(self) -> str:
        return self.server.output(_WHOLE_LOG)[self.start :]

    def whole(self) -> str:
        """All the server wrote, from its start."""
        return self.server.output(_WHOLE_LOG)

    def wait_for(self, line: str, timeout: float = 5.0) -> str:
        """The log once it holds `line` (the server writes it from another process).

        Raises:
            ServiceUnavailable: `line` did not appear within `timeout` seconds.
        """
        wait_until(lambda: line in self.text(), timeout=timeout, description=f"no {line!r}")
        return self.text()


@pytest.fixture
def server_log(app_server: GeneratedAppServer) -> ServerLog:
    return ServerLog(app_server)


@pytest.fixture(scope="session")
def secret_key(app_server: GeneratedAppServer) -> str:
    """The `SECRET_KEY` that `stackkit new` wrote to the project's `.env`."""
    for line in (app_server.project / ".env").read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition("=")
        if name.strip() == "SECRET_KEY" and value.strip():
            return value.strip()
    raise AssertionError("the project's .env sets no SECRET_KEY")


def all_notes(client: Client, limit: int = 100) -> list[dict[str, Any]]:
    """Every note of `client`'s user, page by page through GET /api/notes (at most 100
    pages of `limit`).

    Raises:
        AssertionError: a page was not answered 200, or there were more pages.
    """
    notes: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):  # bounded
        target = f"/api/notes?limit={limit}"
        if cursor is not None:
            target += f"&cursor={quote(cursor)}"
        answer = client.send("GET", target)
        assert answer.status == 200, answer.body
        page = answer.json()
        notes += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return notes
    raise AssertionError("more than 100 pages of notes")


@pytest.fixture
def note_count(user_client: Client) -> Callable[[], int]:
    """`note_count()`: how many notes `user_client` has, through GET /api/notes."""
    queries = itertools.count()
    # A limit unlike the last counts': the response cache cannot answer from an entry.
    return lambda: len(all_notes(user_client, limit=100 - next(queries) % 50))
