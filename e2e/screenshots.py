"""`Screenshots`: the full-page screenshots a test takes of the pages it visits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

__all__ = ["Screenshots", "slug"]


def slug(text: str) -> str:
    """`text` as a piece of a file name: lower case, anything odd turned into `-`."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-").lower()


class Screenshots:
    """Screenshots of one test into `folder`, numbered in the order taken:
    `<module>--<test>--<nn>-<label>.png`."""

    def __init__(self, folder: Path, item: pytest.Item) -> None:
        self.folder = folder
        self.prefix = f"{slug(item.path.stem)}--{slug(item.name)}"
        self.taken = 0

    def __call__(self, page: Page, label: str) -> Path:
        """Save a screenshot of the whole of `page` and return its path."""
        self.taken += 1
        path = self.folder / f"{self.prefix}--{self.taken:02d}-{slug(label)}.png"
        page.screenshot(path=path, full_page=True, animations="disabled")
        return path
