"""Steps the tests share: signing up and in through the UI, and calls to the API."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

from playwright.sync_api import Locator, Page, expect

from e2e.server import Account

__all__ = [
    "DASHBOARD",
    "LOGIN",
    "ApiClient",
    "log_in",
    "open_page",
    "register",
    "signed_in_as",
]

DASHBOARD = re.compile(r"/$")
LOGIN = re.compile(r"/login$")


def open_page(page: Page, path: str, ready: Locator) -> None:
    """Go to `path` and wait for `ready`."""
    page.goto(path)
    expect(ready).to_be_visible()


def signed_in_as(page: Page, account: Account) -> None:
    """Wait for the dashboard of `account`."""
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_text(f"Signed in as {account.email}.")).to_be_visible()


def register(page: Page, account: Account, app_url: str = "") -> None:
    """Create `account` on the registration page (of the app at `app_url`, else the
    main one); the app signs it in."""
    page.goto(f"{app_url}/register")
    page.get_by_label("Email", exact=True).fill(account.email)
    page.get_by_label("Password", exact=True).fill(account.password)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(DASHBOARD)
    signed_in_as(page, account)


def log_in(page: Page, account: Account) -> None:
    """Fill in and send the sign-in form of the page (which must show it)."""
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    page.get_by_label("Email", exact=True).fill(account.email)
    page.get_by_label("Password", exact=True).fill(account.password)
    page.get_by_role("button", name="Sign in").click()


class ApiClient:
    """The app's JSON API over plain HTTP, as a script or another client calls it.

    `address` is sent as `X-Forwarded-For`, so that the client counts as a visitor
    of its own for the rate limits (see `GeneratedAppServer`).
    """

    def __init__(self, base_url: str, address: str) -> None:
        self.base_url = base_url
        self.address = address
        self.token: str | None = None

    def register(self, account: Account) -> None:
        """Create the account."""
        self.call("POST", "/api/auth/register", _credentials(account))

    def log_in(self, account: Account) -> None:
        """Sign in; later calls send the access token."""
        self.token = self.call("POST", "/api/auth/login", _credentials(account))["access_token"]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """Send a request and return its decoded JSON (None for an empty answer).

        Raises:
            urllib.error.HTTPError: for any answer that is not 2xx.
        """
        headers = {"Accept": "application/json", "X-Forwarded-For": self.address}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=headers, method=method
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload else None


def _credentials(account: Account) -> dict[str, str]:
    return {"email": account.email, "password": account.password}
