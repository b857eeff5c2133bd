"""Each main page passes axe-core's accessibility rules (WCAG 2.1 A and AA)."""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect

from e2e.flows import ApiClient, log_in, register, signed_in_as
from e2e.screenshots import Screenshots
from e2e.server import Account

_AXE = Axe()
_RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def check(page: Page, ready: Locator) -> None:
    """Wait for `ready`, then fail with axe's report if the page breaks a rule."""
    expect(ready).to_be_visible()
    results = _AXE.run(page, options=_RULES)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def test_the_signed_out_pages(page: Page) -> None:
    page.goto("/login")
    check(page, page.get_by_role("heading", name="Sign in"))
    page.goto("/register")
    check(page, page.get_by_role("heading", name="Create an account"))
    page.goto("/forgot-password")
    check(page, page.get_by_role("heading", name="Reset your password"))
    page.goto("/reset-password#token=x")
    check(page, page.get_by_role("heading", name="Choose a new password"))


def test_the_signed_in_pages(
    page: Page, account: Account, api: ApiClient, screenshot: Screenshots
) -> None:
    register(page, account)
    check(page, page.get_by_role("heading", name="Dashboard", level=1))
    api.log_in(account)
    garden = api.call("POST", "/api/categories", {"name": "Garden"})
    body = {"title": "Water the plants", "done": True, "category_id": garden["id"]}
    note = api.call("POST", "/api/notes", body)

    page.goto("/r/notes")
    check(page, page.get_by_role("link", name=str(note["id"]), exact=True))
    page.goto("/r/notes/new")
    check(page, page.get_by_role("button", name="Create", exact=True))
    picker = page.get_by_role("combobox", name=re.compile(r"^Category\b"))
    picker.fill("gar")
    check(page, page.get_by_role("option", name="Garden"))  # the picker, open
    picker.press("Escape")
    page.get_by_role("button", name="Create", exact=True).click()  # an empty title
    check(page, page.get_by_text("Fill this in."))
    page.goto(f"/r/notes/{note['id']}")
    check(page, page.get_by_role("link", name="Edit"))
    page.get_by_role("button", name="Delete").click()
    check(page, page.get_by_role("dialog"))
    page.goto(f"/r/categories/{garden['id']}")
    children = page.get_by_role("region", name="Notes")
    check(page, children.get_by_role("link", name="Water the plants"))
    page.goto("/profile")
    check(page, page.get_by_role("list", name="Sessions"))
    screenshot(page, "profile")


def test_the_users_page(page: Page, admin: Account) -> None:
    page.goto("/login")
    log_in(page, admin)
    signed_in_as(page, admin)
    page.goto("/admin/users")
    check(page, page.get_by_role("cell", name=re.compile(re.escape(admin.email))))
