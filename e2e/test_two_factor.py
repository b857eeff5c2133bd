"""Two-factor sign-in in Chromium: enrolled with a code computed from the secret the
page shows, recovery codes shown once; then a sign-in asks for the code after the
password, and a trusted browser is not asked again."""

from __future__ import annotations

import re
import time

import pyotp
from playwright.sync_api import Page, expect

from e2e.flows import log_in, register, signed_in_as
from e2e.screenshots import Screenshots
from e2e.server import Account
from e2e.test_accessibility import check


def test_enrol_then_sign_in_with_the_second_step(
    page: Page, account: Account, screenshot: Screenshots
) -> None:
    register(page, account)
    page.get_by_role("link", name="Profile").click()
    page.get_by_role("link", name="Turn it on").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in", level=1)).to_be_visible()
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Set up").click()
    secret = page.get_by_label("Secret", exact=True)
    expect(secret).to_have_text(_base32())
    totp = pyotp.TOTP(secret.inner_text())
    expect(page.get_by_role("img", name=re.compile("^QR code of the secret"))).to_be_visible()
    check(page, page.get_by_label("Code from the app"))
    screenshot(page, "scan-the-code")
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    codes = page.get_by_role("list", name="Recovery codes")
    expect(codes.get_by_role("listitem")).to_have_count(10)
    screenshot(page, "recovery-codes")
    page.get_by_role("button", name="I have kept them").click()
    expect(page.get_by_text("10 recovery codes left.")).to_be_visible()

    page.get_by_role("button", name="Log out", exact=True).click()
    log_in(page, account)
    expect(page.get_by_role("heading", name="Two-factor sign-in", level=1)).to_be_visible()
    check(page, page.get_by_label("Code"))
    page.get_by_label("Code").fill(totp.at(time.time() + 30))  # the enrolment spent this step's
    page.get_by_role("checkbox", name="Trust this browser for 30 days").check()
    page.get_by_role("button", name="Sign in").click()
    signed_in_as(page, account)

    # Trusted: the next sign-in asks for the password only.
    page.get_by_role("button", name="Log out", exact=True).click()
    log_in(page, account)
    signed_in_as(page, account)
    page.goto("/two-factor")
    trusted = page.get_by_role("list", name="Trusted browsers")
    expect(trusted.get_by_role("listitem")).to_have_count(1)
    screenshot(page, "two-factor")


def _base32() -> re.Pattern[str]:
    return re.compile(r"^[A-Z2-7]{32}$")
