"""The profile page: sessions, signing out everywhere, changing the password."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import BrowserContext, Page, expect

from e2e.flows import DASHBOARD, LOGIN, log_in, open_page, register, signed_in_as
from e2e.screenshots import Screenshots
from e2e.server import Account


def open_profile(page: Page) -> None:
    open_page(page, "/profile", page.get_by_role("heading", name="Profile", level=1))


def two_devices(new_context: Callable[[], BrowserContext], account: Account) -> tuple[Page, Page]:
    """`account` registered on one device (a browser profile), and signed in on another."""
    first = new_context().new_page()
    register(first, account)
    second = new_context().new_page()
    second.goto("/login")
    log_in(second, account)
    signed_in_as(second, account)
    return first, second


def test_revoking_a_session_signs_that_device_out(
    new_context: Callable[[], BrowserContext], account: Account, screenshot: Screenshots
) -> None:
    first, second = two_devices(new_context, account)
    open_profile(first)

    expect(first.get_by_role("heading", name="Sessions")).to_be_visible()
    this_device = first.get_by_role("listitem").filter(has_text="This device")
    expect(this_device).to_have_count(1)
    expect(this_device.get_by_role("button", name="Revoke")).to_have_count(0)
    others = first.get_by_role("listitem").filter(has=first.get_by_role("button", name="Revoke"))
    expect(others).to_have_count(1)
    screenshot(first, "profile with two sessions")

    others.get_by_role("button", name="Revoke").click()
    expect(others).to_have_count(0)
    expect(this_device).to_have_count(1)
    screenshot(first, "profile after revoking")

    second.reload()
    expect(second).to_have_url(LOGIN)
    screenshot(second, "revoked device")
    first.reload()
    expect(first.get_by_role("heading", name="Profile", level=1)).to_be_visible()


def test_logging_out_everywhere_ends_every_session(
    new_context: Callable[[], BrowserContext], account: Account, screenshot: Screenshots
) -> None:
    first, second = two_devices(new_context, account)
    open_profile(first)
    screenshot(first, "profile")

    first.get_by_role("button", name="Log out everywhere").click()
    dialog = first.get_by_role("dialog")
    expect(dialog).to_be_visible()
    screenshot(first, "confirm")
    dialog.get_by_role("button", name="Log out everywhere").click()
    expect(first).to_have_url(LOGIN)
    screenshot(first, "signed out")
    first.goto("/profile")
    expect(first).to_have_url(LOGIN)
    second.reload()
    expect(second).to_have_url(LOGIN)
    screenshot(second, "other device signed out")


def test_changing_the_password(page: Page, account: Account, screenshot: Screenshots) -> None:
    register(page, account)
    open_profile(page)
    new_password = account.password + "-new"

    page.get_by_label("Current password", exact=True).fill(account.password)
    page.get_by_label("New password", exact=True).fill(new_password)
    screenshot(page, "change password")
    with page.expect_response(re.compile(r"/api/auth/password$")) as answer:
        page.get_by_role("button", name="Change password").click()
    assert answer.value.ok
    screenshot(page, "password changed")

    page.get_by_role("button", name="Log out", exact=True).click()
    log_in(page, account)
    expect(page.get_by_role("alert")).to_have_text("Invalid email or password.")
    log_in(page, Account(account.email, new_password))
    expect(page).to_have_url(DASHBOARD)
    signed_in_as(page, account)
