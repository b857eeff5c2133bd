"""The audit log in Chromium: a user's own recent activity on the profile, and the
admins' Audit log page filtered to warnings; both pass axe."""

from __future__ import annotations

import urllib.error

import pytest
from playwright.sync_api import Page, expect

from e2e.flows import ApiClient, log_in, register, signed_in_as
from e2e.screenshots import Screenshots
from e2e.server import Account
from e2e.test_accessibility import check

WRONG = "A sign-in with a wrong password, or to a disabled account."


def test_a_user_sees_their_own_activity_and_an_admin_sees_the_warnings(
    page: Page, account: Account, admin: Account, api: ApiClient, screenshot: Screenshots
) -> None:
    register(page, account)
    signed_in_as(page, account)
    with pytest.raises(urllib.error.HTTPError) as refused:
        api.call("POST", "/api/auth/login", {"email": account.email, "password": "x" * 12})
    assert refused.value.code == 401
    page.get_by_role("link", name="Profile").click()
    activity = page.get_by_role("table", name="Recent activity")
    expect(activity.get_by_text("The account was created.")).to_be_visible()
    expect(activity.get_by_text(WRONG)).to_be_visible()
    expect(page.get_by_role("link", name="Audit log")).to_have_count(0)
    check(page, activity)

    page.get_by_role("button", name="Log out", exact=True).click()
    log_in(page, admin)
    signed_in_as(page, admin)
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    page.get_by_role("button", name="Warnings").click()
    table = page.get_by_role("table", name="Audit log")
    expect(table.get_by_text(WRONG).first).to_be_visible()
    expect(table.get_by_text("Signed in.")).to_have_count(0)
    check(page, table)
    screenshot(page, "audit-log")
