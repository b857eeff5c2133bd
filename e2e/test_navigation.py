"""The main navigation: what a user and an admin find in it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.flows import DASHBOARD, log_in, register, signed_in_as
from e2e.screenshots import Screenshots
from e2e.server import Account


def test_the_nav_leads_to_the_dashboard_and_the_profile(
    page: Page, account: Account, screenshot: Screenshots
) -> None:
    register(page, account)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("button", name="Log out", exact=True)).to_be_visible()
    profile = nav.get_by_role("link", name="Profile", exact=True)
    expect(profile).to_be_visible()
    expect(nav.get_by_role("link", name="Users", exact=True)).to_have_count(0)

    profile.click()
    expect(page).to_have_url(re.compile(r"/profile$"))
    expect(page.get_by_role("heading", name="Profile", level=1)).to_be_visible()
    screenshot(page, "profile")
    nav.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page).to_have_url(DASHBOARD)
    signed_in_as(page, account)


def test_an_admin_also_finds_users_in_the_nav(
    page: Page, admin: Account, screenshot: Screenshots
) -> None:
    page.goto("/login")
    log_in(page, admin)
    signed_in_as(page, admin)
    nav = page.get_by_role("navigation", name="Main")
    users = nav.get_by_role("link", name="Users", exact=True)
    expect(users).to_be_visible()
    screenshot(page, "admin dashboard")

    users.click()
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    expect(page.get_by_role("cell", name=admin.email)).to_be_visible()
    screenshot(page, "users")
