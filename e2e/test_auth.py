"""Signing up, in and out, and what a signed-out visitor sees."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.flows import (
    DASHBOARD,
    LOGIN,
    ApiClient,
    log_in,
    register,
    signed_in_as,
)
from e2e.screenshots import Screenshots
from e2e.server import Account


def test_a_new_user_registers_and_lands_on_the_dashboard(
    page: Page, account: Account, screenshot: Screenshots
) -> None:
    page.goto("/register")
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    screenshot(page, "register")
    page.get_by_label("Email", exact=True).fill(account.email)
    page.get_by_label("Password", exact=True).fill(account.password)
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(DASHBOARD)
    signed_in_as(page, account)
    expect(page.get_by_role("button", name="Log out", exact=True)).to_be_visible()
    screenshot(page, "dashboard")


def test_a_user_logs_out_then_in_again(
    page: Page, account: Account, screenshot: Screenshots
) -> None:
    register(page, account)

    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page).to_have_url(LOGIN)
    screenshot(page, "signed out")
    # The refresh cookie went with the session: a reload does not sign back in.
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page).to_have_url(LOGIN)

    log_in(page, account)
    expect(page).to_have_url(DASHBOARD)
    signed_in_as(page, account)
    screenshot(page, "signed in again")


def test_a_reload_keeps_the_user_signed_in(
    page: Page, account: Account, screenshot: Screenshots
) -> None:
    register(page, account)

    # The access token lived in memory only: the refresh cookie brings the session back.
    page.reload()
    signed_in_as(page, account)
    screenshot(page, "dashboard after reload")
    page.goto("/r/notes")
    expect(page.get_by_role("heading", name="Notes", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/r/notes$"))
    screenshot(page, "notes opened directly")


def test_a_wrong_password_shows_an_error_on_the_sign_in_form(
    page: Page, account: Account, api: ApiClient, screenshot: Screenshots
) -> None:
    api.register(account)
    page.goto("/login")
    log_in(page, Account(account.email, account.password + "-wrong"))

    expect(page.get_by_role("alert")).to_have_text("Invalid email or password.")
    expect(page).to_have_url(LOGIN)
    expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    screenshot(page, "refused")


def test_a_signed_out_visitor_goes_to_sign_in_and_then_back(
    page: Page, account: Account, api: ApiClient, screenshot: Screenshots
) -> None:
    api.register(account)
    page.goto("/r/notes")
    expect(page).to_have_url(LOGIN)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "sent to sign in")

    log_in(page, account)
    expect(page).to_have_url(re.compile(r"/r/notes$"))
    expect(page.get_by_role("heading", name="Notes", exact=True)).to_be_visible()
    screenshot(page, "back at notes")


def test_a_user_asks_for_a_password_reset_link(
    page: Page, account: Account, api: ApiClient, screenshot: Screenshots
) -> None:
    api.register(account)
    page.goto("/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    forgot = page.get_by_role("link", name="Forgot your password?")
    expect(forgot).to_be_visible()
    screenshot(page, "sign in")

    forgot.click()
    expect(page).to_have_url(re.compile(r"/forgot-password$"))
    # The address changes first; the sign-in form (with its own "Email") stays until
    # the page's chunk has loaded.
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.get_by_label("Email", exact=True).fill(account.email)
    screenshot(page, "forgot password")
    with page.expect_response(re.compile(r"/api/auth/password-reset$")) as answer:
        page.get_by_role("button", name="Send reset link").click()
    assert answer.value.status == 202

    confirmation = re.compile(r"check your|we (have )?sent|if an account|on its way", re.IGNORECASE)
    expect(page.locator("main")).to_contain_text(confirmation)
    screenshot(page, "link sent")
