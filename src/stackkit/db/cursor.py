"""Opaque, tamper-evident cursors for keyset pagination.

A cursor carries the sort values of the last row of a page and the sort it was
made for, as base64url JSON followed by an HMAC-SHA256 tag. A cursor that was
altered, forged without the key, or made for another sort is refused (422),
so a client can neither read other rows through it nor reach SQL with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from typing import Any

from pydantic_core import to_jsonable_python

from stackkit.errors import ValidationProblem

__all__ = ["CursorCodec"]

_TAG_BYTES = 16
MAX_CURSOR_LENGTH = 2048


class CursorCodec:
    """Signs and checks cursors with a key (the app's `SECRET_KEY`).

    Args:
        key: the signing key; omitted, a random one for this process (cursors
            then work only within the process that made them).
    """

    def __init__(self, key: str | bytes | None = None) -> None:
        raw = key.encode() if isinstance(key, str) else key
        # Derive a key of its own, so a cursor tag never doubles as another signature.
        self._key = hashlib.sha256(
            b"stackkit-cursor\x00" + (raw or secrets.token_bytes(32))
        ).digest()

    def encode(self, sort: str, values: Sequence[Any]) -> str:
        payload = json.dumps(
            {"s": sort, "v": to_jsonable_python(list(values))}, separators=(",", ":")
        ).encode()
        return f"{_b64(payload)}.{_b64(self._tag(payload))}"

    def decode(self, cursor: str, sort: str) -> list[Any]:
        """The sort values inside `cursor` (as JSON values: the caller types them).

        Raises:
            ValidationProblem: the cursor is malformed, altered, or from another sort.
        """
        try:
            if len(cursor) > MAX_CURSOR_LENGTH:
                raise ValueError("too long")
            body, tag = cursor.split(".")
            payload = _unb64(body)
            if not hmac.compare_digest(_unb64(tag), self._tag(payload)):
                raise ValueError("bad signature")
            data = json.loads(payload)
            values = data["v"]
            if data["s"] != sort or not isinstance(values, list):
                raise ValueError("made for another sort")
        except (ValueError, KeyError, TypeError) as error:
            raise ValidationProblem.for_field(
                "cursor",
                f"not a cursor this list gave out ({error})",
                kind="invalid_cursor",
                location="query",
            ) from None
        return values

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_TAG_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
