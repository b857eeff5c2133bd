"""What a field accepts (`FileRule`), what a file really is (`sniff`), and the
thumbnails of images.

The type a client names is never trusted: the first bytes of the file say what it
is (puremagic reads their signature), and an image must also open in Pillow, which
then makes its thumbnail.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from typing import IO

__all__ = [
    "DEFAULT_MAX_SIZE",
    "IMAGE_TYPES",
    "SNIFF_BYTES",
    "THUMBNAIL_SIZE",
    "FileRule",
    "NotAnImage",
    "make_thumbnail",
    "sniff",
]

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
"""Bytes a file field takes unless its rule says otherwise."""

SNIFF_BYTES = 8192
"""How many of a file's first bytes are read to tell its type."""

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
"""The images an `image` field takes: raster formats a browser shows and Pillow reads.
SVG is not among them: it may carry scripts."""

INLINE_TYPES = frozenset(IMAGE_TYPES)
"""Types served for the browser to show; every other file is served as a download."""

THUMBNAIL_SIZE = (320, 320)
"""The box a thumbnail fits in, keeping the image's proportions."""

MAX_PIXELS = 40_000_000
"""Larger images are refused before they are decoded (a small file can unpack into
gigabytes of pixels)."""

_OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True)
class FileRule:
    """What a file field takes."""

    image: bool = False
    """An image: only `IMAGE_TYPES`, and a thumbnail is made of each."""
    max_size: int = DEFAULT_MAX_SIZE
    """The largest file, in bytes."""
    types: tuple[str, ...] = ()
    """The content types taken, as sniffed (`application/pdf`, or `image/*` for a
    family); empty: any (for an image, `IMAGE_TYPES`)."""

    def __post_init__(self) -> None:
        if self.max_size < 1:
            raise ValueError("max_size must be at least 1 byte")
        if self.image and not set(self.allowed_types) <= set(IMAGE_TYPES):
            raise ValueError(f"an image field takes only {', '.join(IMAGE_TYPES)}")

    @property
    def allowed_types(self) -> tuple[str, ...]:
        """The types taken (`IMAGE_TYPES` for an image without types of its own)."""
        return self.types or (IMAGE_TYPES if self.image else ())

    def allows(self, content_type: str) -> bool:
        """Whether a file of this (sniffed) type is taken."""
        allowed = self.allowed_types
        if not allowed:
            return True
        family = content_type.split("/", 1)[0] + "/*"
        return content_type in allowed or family in allowed


def sniff(head: bytes, name: str = "", *, complete: bool = False) -> str:
    """The content type of a file from its first bytes (`SNIFF_BYTES` of them, or the
    whole file when `complete`): a known signature, else `text/plain` for UTF-8 text
    without control characters, else `application/octet-stream`. The file's `name`
    only breaks ties between formats that share a signature (a `.docx` is a zip)."""
    import puremagic  # here: an app without file fields never loads it

    if not head:
        return _OCTET_STREAM
    try:
        # Only signatures that matched bytes: puremagic's guesses from a name do not count.
        matches = [m for m in puremagic.magic_string(head) if m.byte_match and m.mime_type]
    except (puremagic.PureError, ValueError):
        matches = []
    if matches:
        best = max(match.confidence for match in matches)
        tied = [match for match in matches if match.confidence == best]
        extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
        named = [match for match in tied if match.extension.lower() == extension]
        return str((named or tied)[0].mime_type)
    return "text/plain" if _is_text(head, cut=not complete) else _OCTET_STREAM


_TEXT_CONTROLS = frozenset("\t\n\r\f")


def _is_text(head: bytes, *, cut: bool) -> bool:
    """UTF-8 without control characters but tabs and line breaks. When `cut`, the
    head may end inside a character: what comes before it must be text."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (cut and exc.reason == "unexpected end of data"):
            return False
        text = head[: exc.start].decode("utf-8")
    return not any(unicodedata.category(c) == "Cc" and c not in _TEXT_CONTROLS for c in text)


class NotAnImage(ValueError):
    """The file does not open as an image of the types taken, or is too large."""


def make_thumbnail(source: IO[bytes], content_type: str) -> bytes:
    """A WebP thumbnail of the image in `source`, within `THUMBNAIL_SIZE`, turned
    upright as its EXIF orientation says (blocking: run it in a thread).

    Raises:
        NotAnImage: Pillow cannot read it as `content_type`, or it has more than
            `MAX_PIXELS` pixels.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError  # here: loaded on first use

    expected = content_type.removeprefix("image/").upper().replace("JPG", "JPEG")
    try:
        with Image.open(source, formats=[expected]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise NotAnImage(f"the image has more than {MAX_PIXELS} pixels")
            image.thumbnail(THUMBNAIL_SIZE)
            upright = ImageOps.exif_transpose(image)
            if upright.mode not in ("RGB", "RGBA"):
                upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
            output = io.BytesIO()
            upright.save(output, "WEBP", quality=80)
            return output.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise NotAnImage(f"not a readable {content_type} image") from exc
