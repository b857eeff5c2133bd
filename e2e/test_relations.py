"""A note's category in the UI: picked from the user's own categories, shown by name in
lists and on pages, and a category's page lists its notes and makes new ones."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

from playwright.sync_api import Page, expect

from e2e.flows import ApiClient, register
from e2e.screenshots import Screenshots
from e2e.server import Account


def test_a_note_picks_its_category_and_the_category_lists_its_notes(
    page: Page,
    account: Account,
    api: ApiClient,
    base_url: str,
    addresses: Iterator[str],
    screenshot: Screenshots,
) -> None:
    register(page, account)
    api.log_in(account)
    work = api.call("POST", "/api/categories", {"name": "Work"})
    api.call("POST", "/api/categories", {"name": "Workshop"})
    api.call("POST", "/api/categories", {"name": "Home"})
    other = ApiClient(base_url, next(addresses))
    stranger = Account(f"stranger-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16))
    other.register(stranger)
    other.log_in(stranger)
    other.call("POST", "/api/categories", {"name": "Work of a stranger"})

    page.goto("/r/notes/new")
    page.get_by_label(re.compile(r"^Title\b")).fill("Send the invoice")
    picker = page.get_by_role("combobox", name=re.compile(r"^Category\b"))
    picker.fill("wor")
    options = page.get_by_role("listbox").get_by_role("option")
    expect(options).to_have_text(["Work", "Workshop"])  # the stranger's is not offered
    screenshot(page, "picker")
    picker.press("ArrowDown")
    picker.press("ArrowUp")
    picker.press("Enter")
    expect(picker).to_have_value("Work")
    page.get_by_role("button", name="Create", exact=True).click()

    expect(page).to_have_url(re.compile(r"/r/notes/\d+$"))
    category = page.get_by_role("link", name="Work", exact=True)
    expect(category).to_have_attribute("href", f"/r/categories/{work['id']}")
    screenshot(page, "note with its category")

    page.goto("/r/notes")
    row = page.get_by_role("row").filter(has_text="Send the invoice")
    expect(row.get_by_role("link", name="Work", exact=True)).to_be_visible()
    row.get_by_role("link", name="Work", exact=True).click()

    expect(page).to_have_url(re.compile(rf"/r/categories/{work['id']}$"))
    notes = page.get_by_role("region", name="Notes")
    expect(notes.get_by_role("link", name="Send the invoice")).to_be_visible()
    screenshot(page, "category with its notes")
    notes.get_by_role("link", name="New note").click()

    expect(page).to_have_url(re.compile(rf"/r/notes/new\?category_id={work['id']}$"))
    expect(page.get_by_role("combobox", name=re.compile(r"^Category\b"))).to_have_value("Work")
    page.get_by_label(re.compile(r"^Title\b")).fill("Pay the rent")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page).to_have_url(re.compile(r"/r/notes/\d+$"))
    expect(page.get_by_role("link", name="Work", exact=True)).to_be_visible()

    page.goto(f"/r/categories/{work['id']}")
    expect(page.get_by_role("region", name="Notes").get_by_role("link")).to_have_count(3)


def test_a_note_has_many_tags_and_a_tag_lists_its_notes(
    page: Page, account: Account, api: ApiClient, screenshot: Screenshots
) -> None:
    register(page, account)
    api.log_in(account)
    urgent = api.call("POST", "/api/tags", {"name": "urgent"})
    api.call("POST", "/api/tags", {"name": "home"})
    api.call("POST", "/api/tags", {"name": "later"})

    page.goto("/r/notes/new")
    page.get_by_label(re.compile(r"^Title\b")).fill("Fix the roof")
    picker = page.get_by_role("combobox", name=re.compile(r"^Tags\b"))
    for name in ("urg", "hom"):
        picker.fill(name)
        expect(page.get_by_role("listbox").get_by_role("option")).to_have_count(1)
        picker.press("Enter")
    picked = page.get_by_role("list", name=re.compile(r"^Tags.*picked$"))
    chips = picked.get_by_role("listitem")
    expect(chips).to_have_text([re.compile("^urgent"), re.compile("^home")])
    screenshot(page, "tags picked")
    page.get_by_role("button", name="Create", exact=True).click()

    expect(page).to_have_url(re.compile(r"/r/notes/\d+$"))
    expect(page.get_by_role("link", name="urgent", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="home", exact=True)).to_be_visible()
    page.get_by_role("link", name="Edit").click()
    picked.get_by_role("button", name="Remove home").click()
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(re.compile(r"/r/notes/\d+$"))
    expect(page.get_by_role("link", name="home", exact=True)).to_have_count(0)

    page.goto("/r/notes")
    # The filter bar reaches across the link: the notes with a tag named "urg…".
    filters = page.get_by_role("form", name="Filter")
    filters.get_by_label("Field").select_option(label="Tags: name")
    filters.get_by_label("Condition").select_option("contains")
    filters.get_by_label("Value").fill("urg")
    filters.get_by_role("button", name="Add filter").click()
    expect(page).to_have_url(re.compile(r"tags\.name__contains=urg"))
    expect(page.get_by_role("row").filter(has_text="Fix the roof")).to_have_count(1)
    page.goto("/r/notes?tags.name__contains=hom")
    expect(page.get_by_text("Nothing matches these filters.")).to_be_visible()

    page.goto("/r/notes")
    row = page.get_by_role("row").filter(has_text="Fix the roof")
    row.get_by_role("link", name="urgent", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/r/tags/{urgent['id']}$"))
    notes = page.get_by_role("region", name="Notes")
    expect(notes.get_by_role("link", name="Fix the roof")).to_be_visible()
    screenshot(page, "tag with its notes")
