"""The theme and the language: each follows the browser until the user picks one in
the footer, and the pick outlives a reload; the pages pass axe in the dark theme and
in German."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import BrowserContext, Page, expect

from e2e.flows import ApiClient, register
from e2e.screenshots import Screenshots
from e2e.server import Account
from e2e.test_accessibility import check


def is_dark(page: Page) -> bool:
    """Whether the page's background is dark (its red, green and blue under half)."""
    color = page.evaluate("getComputedStyle(document.body).backgroundColor")
    channels = [float(c) for c in re.findall(r"[\d.]+", color)[:3]]
    if color.startswith("oklch"):
        return channels[0] < 0.5
    return max(channels) < 128


def test_the_dark_theme_follows_the_system_until_the_user_picks_one(
    new_context: Callable[..., BrowserContext],
    account: Account,
    api: ApiClient,
    screenshot: Screenshots,
) -> None:
    page = new_context(color_scheme="dark").new_page()
    page.goto("/login")
    check(page, page.get_by_role("heading", name="Sign in"))
    assert is_dark(page)
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))

    register(page, account)
    check(page, page.get_by_role("heading", name="Dashboard", level=1))
    api.log_in(account)
    note = api.call("POST", "/api/notes", {"title": "Water the plants"})
    page.goto("/r/notes")
    check(page, page.get_by_role("link", name=str(note["id"]), exact=True))
    page.goto(f"/r/notes/{note['id']}")
    check(page, page.get_by_role("link", name="Edit"))
    page.get_by_role("button", name="Delete").click()
    check(page, page.get_by_role("dialog"))
    page.goto("/r/notes/new")
    page.get_by_role("button", name="Create", exact=True).click()  # an empty title
    check(page, page.get_by_text("Fill this in."))
    page.goto("/profile")
    check(page, page.get_by_role("list", name="Sessions"))
    screenshot(page, "profile-dark")

    theme = page.get_by_label("Theme")
    expect(theme).to_have_value("system")
    theme.select_option("light")
    assert not is_dark(page)
    page.reload()
    expect(page.get_by_label("Theme")).to_have_value("light")
    assert not is_dark(page)
    page.get_by_label("Theme").select_option("system")
    assert is_dark(page)


def test_the_language_follows_the_browser_until_the_user_picks_one(
    new_context: Callable[..., BrowserContext], account: Account, screenshot: Screenshots
) -> None:
    page = new_context(locale="de-DE").new_page()
    page.goto("/login")
    check(page, page.get_by_role("heading", name="Anmelden", level=1))
    expect(page.locator("html")).to_have_attribute("lang", "de")

    page.get_by_label("Sprache").select_option("en")
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.reload()
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()

    page.get_by_label("Language").select_option("de")
    page.get_by_role("link", name="Jetzt registrieren").click()
    expect(page.get_by_role("heading", name="Konto erstellen", level=1)).to_be_visible()
    page.get_by_label("E-Mail", exact=True).fill(account.email)
    page.get_by_label("Passwort", exact=True).fill(account.password)
    page.get_by_role("button", name="Konto erstellen").click()
    check(page, page.get_by_role("heading", name="Übersicht", level=1))
    expect(page.get_by_text(f"Angemeldet als {account.email}.")).to_be_visible()
    nav = page.get_by_role("navigation", name="Hauptnavigation")
    nav.get_by_role("link", name="Profil").click()
    sessions = page.get_by_role("list", name="Sitzungen")
    check(page, sessions)
    # Dates as German writes them: "07.12.2026, 09:30".
    expect(sessions).to_contain_text(re.compile(r"angemeldet am \d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}"))
    screenshot(page, "profile-de")
