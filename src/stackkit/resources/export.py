"""CSV export of a resource: `GET /api/<name>/export.csv`, with the list's filters and sort.

The rows are read by keyset pages of `EXPORT_PAGE_SIZE` and written as they come,
so an export of a million rows holds one page in memory, not the table. Each page
is read in a unit of its own: a row changed during the export is written as one of
its pages saw it, and keyset pages neither skip nor repeat a row that did not move
in the sort order.

The columns are the read model's fields, in its order; a value is written as the
JSON answer would give it (times in ISO 8601, decimals as text, lists and objects as
JSON). A text that a spreadsheet would run as a formula (one that begins with `=`,
`+`, `-`, `@`, a tab or a carriage return) is written with a leading `'`, as OWASP
advises against CSV injection.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pydantic import TypeAdapter

from stackkit.db.repository import MAX_PAGE_SIZE, Page
from stackkit.db.service import Service

__all__ = ["EXPORT_PAGE_SIZE", "csv_cell", "csv_lines"]

EXPORT_PAGE_SIZE = MAX_PAGE_SIZE
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def csv_cell(value: Any) -> str:
    """One cell's text, from a value of the JSON answer."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    """A number as spreadsheets read it (`-3.5`, `+1e-3`) is no formula; `-inf`,
    `-1_0` or `-٣` are text to them, and get the quote."""
    return _NUMBER.fullmatch(text) is not None


async def csv_lines(
    service: Service[Any],
    read: TypeAdapter[Any],
    fields: list[str],
    filters: Mapping[str, Any],
    sort: str | None,
    first: Page[Any],
    search: str | None = None,
) -> AsyncIterator[bytes]:
    """The header line, then one line per row the filters select, page by page from
    `first` (read before the answer starts, so that a bad filter is still a 422)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def taken() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode()

    writer.writerow(fields)
    page = first
    while True:
        for row in page.items:
            values = read.dump_python(read.validate_python(row, from_attributes=True), mode="json")
            writer.writerow([csv_cell(values.get(field)) for field in fields])
        yield taken()
        if page.next_cursor is None:
            return
        page = await service.page(
            filters, sort=sort, limit=EXPORT_PAGE_SIZE, cursor=page.next_cursor, search=search
        )
