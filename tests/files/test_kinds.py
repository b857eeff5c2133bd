"""What a file is, read from its bytes (`sniff`), and the thumbnails of images."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from stackkit.files import NotAnImage, make_thumbnail, sniff
from stackkit.files.kinds import MAX_PIXELS, SNIFF_BYTES, FileRule
from stackkit.testing import SAMPLE_PNG


@pytest.mark.parametrize(
    ("head", "name", "complete", "expected"),
    [
        (SAMPLE_PNG, "photo.pdf", True, "image/png"),
        (b"%PDF-1.7\n", "a", True, "application/pdf"),
        (b"PK\x03\x04" + b"\0" * 30, "archive.zip", True, "application/zip"),
        (b"hello\tworld\r\n", "", True, "text/plain"),
        ("héllo wörld".encode(), "", True, "text/plain"),
        (b"\x00\x01\x02\x03binary", "notes.txt", True, "application/octet-stream"),
        (b"\x01\x02\xff", "", True, "application/octet-stream"),
        (b"text then a bell \x07", "", True, "application/octet-stream"),
        (b"x" * (SNIFF_BYTES - 1) + b"\xc3", "", False, "text/plain"),
        (b"ends inside a character \xc3", "", True, "application/octet-stream"),
        (b"", "empty.txt", True, "application/octet-stream"),
    ],
    ids=["png-named-pdf", "pdf", "zip-by-name", "text", "utf8-text", "nul-named-txt",
         "short-binary", "control-char", "head-cut-in-a-char", "file-cut-in-a-char", "empty"],
)  # fmt: skip
def test_a_files_type_comes_from_its_bytes(
    head: bytes, name: str, complete: bool, expected: str
) -> None:
    assert sniff(head, name, complete=complete) == expected


@pytest.mark.parametrize(
    ("rule", "taken", "refused"),
    [
        (FileRule(image=True), ["image/png", "image/webp"], ["image/svg+xml", "text/plain"]),
        (FileRule(types=("text/*", "application/pdf")), ["text/csv", "application/pdf"],
         ["image/png", "application/zip"]),
        (FileRule(), ["application/zip", "image/svg+xml"], []),
    ],
    ids=["image", "families", "any"],
)  # fmt: skip
def test_a_rule_takes_its_types_and_families(
    rule: FileRule, taken: list[str], refused: list[str]
) -> None:
    assert all(rule.allows(kind) for kind in taken)
    assert not any(rule.allows(kind) for kind in refused)


def test_an_image_rule_refuses_types_that_are_not_images() -> None:
    with pytest.raises(ValueError, match="an image field takes only"):
        FileRule(image=True, types=("image/svg+xml",))


def test_a_thumbnail_fits_its_box_upright() -> None:
    source = io.BytesIO()
    Image.new("RGB", (1000, 400)).save(source, "JPEG")
    source.seek(0)
    with Image.open(io.BytesIO(make_thumbnail(source, "image/jpeg"))) as thumbnail:
        assert thumbnail.format == "WEBP"
        assert thumbnail.size == (320, 128)


def test_an_image_of_too_many_pixels_is_refused_before_it_is_decoded() -> None:
    side = int(MAX_PIXELS**0.5) + 1
    source = io.BytesIO()
    Image.new("1", (side, side)).save(source, "PNG")  # a few kilobytes, 40 million pixels
    assert source.tell() < 100_000
    source.seek(0)
    with pytest.raises(NotAnImage, match="more than"):
        make_thumbnail(source, "image/png")


def test_an_image_of_another_format_than_sniffed_is_refused() -> None:
    with pytest.raises(NotAnImage, match="not a readable image/jpeg image"):
        make_thumbnail(io.BytesIO(SAMPLE_PNG), "image/jpeg")
