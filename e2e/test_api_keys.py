"""API keys in Chromium: a key made on the API keys page, its text shown once, used by
an HTTP client as a script would, refused on the account's routes, and revoked."""

from __future__ import annotations

import urllib.error

import pytest
from playwright.sync_api import Page, expect

from e2e.flows import ApiClient, register
from e2e.screenshots import Screenshots
from e2e.server import Account
from e2e.test_accessibility import check


def test_a_key_made_in_the_browser_works_for_a_script_until_it_is_revoked(
    page: Page, account: Account, api: ApiClient, screenshot: Screenshots
) -> None:
    register(page, account)
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    expect(page.get_by_text("No keys yet.")).to_be_visible()
    page.get_by_label("Name").fill("nightly export")
    page.get_by_label("Expires").select_option(label="90 days")
    page.get_by_role("button", name="Make key").click()
    shown = page.get_by_label("The new key")
    expect(shown).to_have_value(_starts_with_sk())
    key = shown.input_value()
    listed = page.get_by_role("list", name="API keys")
    expect(listed.get_by_text("nightly export")).to_be_visible()
    expect(listed.get_by_text("never used")).to_be_visible()
    check(page, listed)
    screenshot(page, "api-keys")

    api.token = key
    made = api.call("POST", "/api/notes", {"title": "Made by a script"})
    assert made["title"] == "Made by a script"
    titles = [note["title"] for note in api.call("GET", "/api/notes")["items"]]
    assert titles == ["Made by a script"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        api.call("GET", "/api/auth/sessions")
    assert refused.value.code == 401

    page.reload()
    expect(page.get_by_role("list", name="API keys").get_by_text("last used")).to_be_visible()
    page.get_by_role("button", name="Revoke nightly export").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
    expect(page.get_by_text("Key “nightly export” revoked: it no longer works.")).to_be_visible()
    with pytest.raises(urllib.error.HTTPError) as revoked:
        api.call("GET", "/api/notes")
    assert revoked.value.code == 401


def _starts_with_sk() -> object:
    import re

    return re.compile(r"^sk_[0-9a-f]{16}_[0-9A-Za-z_-]{43}$")
