"""The one shape of a page of rows that a list route answers with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, create_model

__all__ = ["page_model"]


def page_model(name: str, item: type[Any]) -> type[BaseModel]:
    """A page of `item` rows: `items`, and `next_cursor` (None on the last page) to
    ask for the next; `name` is its schema's name in the OpenAPI document."""
    return create_model(name, items=(list[item], ...), next_cursor=(str | None, None))  # type: ignore[valid-type]
