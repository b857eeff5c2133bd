"""A note's photo in the UI: uploaded as it is picked, refused when it is not an image,
shown as a thumbnail on the note's page and downloaded from there; axe-core finds no
violation on the form and the page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.flows import register
from e2e.screenshots import Screenshots
from e2e.server import Account
from e2e.test_accessibility import check
from stackkit.testing import SAMPLE_PNG


def test_a_photo_is_uploaded_shown_and_downloaded(
    page: Page, account: Account, screenshot: Screenshots
) -> None:
    register(page, account)
    page.goto("/r/notes/new")
    page.get_by_label(re.compile(r"^Title\b")).fill("A red square")
    photo = page.get_by_label("Photo (optional)")
    # Not an image, whatever its name says: the app reads the bytes and refuses it.
    photo.set_input_files({"name": "fake.png", "mimeType": "image/png", "buffer": b"plain text"})
    expect(page.get_by_role("alert")).to_contain_text("a text/plain file is not taken here")
    check(page, page.get_by_role("alert"))

    photo.set_input_files({"name": "square.png", "mimeType": "image/png", "buffer": SAMPLE_PNG})
    expect(page.get_by_text("Attached: square.png.")).to_be_visible()
    check(page, page.get_by_text("Attached: square.png."))
    screenshot(page, "photo attached")
    page.get_by_role("button", name="Create", exact=True).click()

    expect(page).to_have_url(re.compile(r"/r/notes/\d+$"))
    thumbnail = page.get_by_role("img", name="square.png")
    expect(thumbnail).to_be_visible()
    expect(thumbnail).to_have_js_property("complete", True)
    assert thumbnail.evaluate("image => image.naturalWidth") == 2  # a thumbnail never enlarges
    check(page, thumbnail)
    screenshot(page, "note with its photo")
    with page.expect_download() as download:
        page.get_by_role("link", name="square.png").click()
    path = download.value.path()
    with open(path, "rb") as saved:
        assert saved.read() == SAMPLE_PNG
