"""The generated `notes` resource in the UI: listed, created, edited, deleted."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from e2e.flows import ApiClient, open_page, register
from e2e.screenshots import Screenshots
from e2e.server import Account

EMPTY = "Nothing here yet."


def test_the_dashboard_lists_the_notes_resource(
    page: Page, account: Account, screenshot: Screenshots
) -> None:
    register(page, account)
    notes = page.get_by_role("link", name=re.compile(r"^Notes"))
    expect(notes).to_have_attribute("href", "/r/notes")
    expect(notes).to_contain_text("/api/notes")
    screenshot(page, "dashboard")

    notes.click()
    expect(page).to_have_url(re.compile(r"/r/notes$"))
    expect(page.get_by_role("heading", name="Notes", exact=True)).to_be_visible()
    expect(page.get_by_text(EMPTY)).to_be_visible()
    screenshot(page, "empty list")


def test_a_note_created_through_the_api_appears_in_the_list(
    page: Page, account: Account, api: ApiClient, screenshot: Screenshots
) -> None:
    register(page, account)
    page.goto("/r/notes")
    expect(page.get_by_text(EMPTY)).to_be_visible()

    api.log_in(account)
    note = api.call(
        "POST", "/api/notes", {"title": "Water the plants", "body": "The fern first.", "done": True}
    )
    page.reload()

    row = page.get_by_role("row").filter(has_text="Water the plants")
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell").first).to_have_text(str(note["id"]))
    expect(row).to_contain_text("The fern first.")
    expect(row.get_by_role("cell", name=re.compile(r"^yes$", re.IGNORECASE))).to_have_count(1)
    expect(page.get_by_text(EMPTY)).to_have_count(0)
    screenshot(page, "list with the note")


def test_a_note_is_created_listed_edited_and_deleted(
    page: Page, account: Account, screenshot: Screenshots
) -> None:
    register(page, account)
    open_page(page, "/r/notes/new", page.get_by_role("button", name="Create", exact=True))

    page.goto("/r/notes")
    expect(page.get_by_role("heading", name="Notes", exact=True)).to_be_visible()
    expect(page.get_by_text(EMPTY)).to_be_visible()
    screenshot(page, "empty list")
    new = page.get_by_role("link", name=re.compile(r"^New"))
    expect(new).to_have_attribute("href", "/r/notes/new")
    new.click()

    expect(page).to_have_url(re.compile(r"/r/notes/new$"))
    page.get_by_label(re.compile(r"^Title\b")).fill("Buy milk")
    page.get_by_label(re.compile(r"^Body\b")).fill("Two litres.")
    page.get_by_label(re.compile(r"^Done\b")).check()
    screenshot(page, "create form")
    page.get_by_role("button", name="Create", exact=True).click()

    expect(page).to_have_url(re.compile(r"/r/notes/\d+$"))
    note_id = page.url.rsplit("/", 1)[-1]
    expect(page.get_by_role("heading", level=1)).to_contain_text(note_id)
    expect(page.get_by_text("Buy milk").first).to_be_visible()
    expect(page.get_by_text("Two litres.").first).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Note created.")).to_be_visible()
    screenshot(page, "detail")
    page.reload()  # the message was for the moment it happened
    expect(page.get_by_text("Buy milk").first).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Note created.")).to_have_count(0)

    page.goto("/r/notes")
    link = page.get_by_role("link", name=note_id, exact=True)
    expect(link).to_have_attribute("href", f"/r/notes/{note_id}")
    expect(page.get_by_role("row").filter(has=link)).to_contain_text("Buy milk")
    screenshot(page, "list")
    link.click()
    expect(page).to_have_url(re.compile(rf"/r/notes/{note_id}$"))

    page.get_by_role("link", name="Edit").click()
    expect(page).to_have_url(re.compile(rf"/r/notes/{note_id}/edit$"))
    page.get_by_label(re.compile(r"^Title\b")).fill("Buy oat milk")
    screenshot(page, "edit form")
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(re.compile(rf"/r/notes/{note_id}$"))
    expect(page.get_by_text("Buy oat milk").first).to_be_visible()
    screenshot(page, "edited")

    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    screenshot(page, "delete dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(re.compile(rf"/r/notes/{note_id}$"))

    page.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/r/notes$"))
    expect(page.get_by_text(EMPTY)).to_be_visible()
    screenshot(page, "list after delete")


def test_the_list_sorts_and_filters_and_keeps_them_in_the_address(
    page: Page, account: Account, api: ApiClient, screenshot: Screenshots
) -> None:
    register(page, account)
    api.log_in(account)
    for title in ("Banana", "Apple", "Cherry"):
        api.call("POST", "/api/notes", {"title": title})
    page.goto("/r/notes")
    titles = page.get_by_role("row").locator("td:nth-child(2)")
    expect(titles).to_have_count(3)

    page.get_by_role("button", name="Sort by title").click()
    expect(page).to_have_url(re.compile(r"\?sort=title$"))
    expect(titles).to_have_text(["Apple", "Banana", "Cherry"])
    page.get_by_role("button", name="Sort by title").click()
    expect(titles).to_have_text(["Cherry", "Banana", "Apple"])

    filters = page.get_by_role("form", name="Filter")
    filters.get_by_label("Field").select_option("title")
    filters.get_by_label("Condition").select_option("contains")
    filters.get_by_label("Value").fill("an")
    filters.get_by_role("button", name="Add filter").click()
    expect(titles).to_have_text(["Banana"])
    screenshot(page, "sorted and filtered")

    page.reload()
    expect(page).to_have_url(re.compile(r"sort=-title&title__contains=an$"))
    expect(titles).to_have_text(["Banana"])
    page.get_by_role("button", name=re.compile(r"^Remove filter")).click()
    expect(titles).to_have_text(["Cherry", "Banana", "Apple"])


def test_the_pages_fit_a_phone(page: Page, account: Account, screenshot: Screenshots) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    register(page, account)
    screenshot(page, "dashboard on a phone")
    page.goto("/r/notes/new")
    create = page.get_by_role("button", name="Create", exact=True)
    expect(create).to_be_visible()
    # Nothing wider than the screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "create form on a phone")


def test_the_list_exports_what_its_filters_select_as_csv(
    page: Page, account: Account, api: ApiClient
) -> None:
    register(page, account)
    api.log_in(account)
    for title in ("Buy milk", "Buy bread", "=cmd|' /C calc'!A0"):
        api.call("POST", "/api/notes", {"title": title, "body": "", "done": False})
    page.goto("/r/notes?title__contains=Buy&sort=title")
    expect(page.get_by_role("row").filter(has_text="Buy bread")).to_have_count(1)
    with page.expect_download() as started:
        page.get_by_role("button", name="Export CSV").click()
    download = started.value
    assert download.suggested_filename == "notes.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert {"id", "title", "body", "done"} <= set(rows[0])
    assert [row["title"] for row in rows] == ["Buy bread", "Buy milk"]

    page.goto("/r/notes?title__contains=cmd")
    with page.expect_download() as formula:
        page.get_by_role("button", name="Export CSV").click()
    text = Path(formula.value.path()).read_text(encoding="utf-8")
    assert "'=cmd" in text  # never a formula in a spreadsheet


def test_the_list_searches_titles_and_bodies(
    page: Page, account: Account, api: ApiClient, screenshot: Screenshots
) -> None:
    register(page, account)
    api.log_in(account)
    api.call("POST", "/api/notes", {"title": "Groceries", "body": "oat milk and bread"})
    api.call("POST", "/api/notes", {"title": "Milk the goat", "body": "at dawn"})
    api.call("POST", "/api/notes", {"title": "Call the plumber"})
    page.goto("/r/notes")
    titles = page.get_by_role("row").locator("td:nth-child(2)")
    expect(titles).to_have_count(3)

    search = page.get_by_role("search", name="Search notes")
    search.get_by_role("searchbox").fill("milk")
    search.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?q=milk$"))
    expect(titles).to_have_count(2)
    expect(page.get_by_role("row").filter(has_text="Call the plumber")).to_have_count(0)
    screenshot(page, "searched")
    search.get_by_role("searchbox").fill("milk bread")
    search.get_by_role("button", name="Search", exact=True).click()
    expect(titles).to_have_text(["Groceries"])
    search.get_by_role("button", name="Clear search").click()
    expect(titles).to_have_count(3)
