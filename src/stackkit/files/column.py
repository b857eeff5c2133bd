"""`file_column()`: a model's column that holds the id of an uploaded file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import String
from sqlalchemy.orm import mapped_column

from stackkit.files.kinds import DEFAULT_MAX_SIZE, FileRule

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Column

__all__ = ["file_column", "file_rule"]


def file_column(
    *,
    image: bool = False,
    max_size: int = DEFAULT_MAX_SIZE,
    types: Sequence[str] = (),
    nullable: bool = True,
) -> Any:
    """The column of a file field (`photo: Mapped[str | None] = file_column(image=True)`):
    the id of a file uploaded through the resource's `files/<field>` routes.

    Args:
        image: only `IMAGE_TYPES`, each given a thumbnail.
        max_size: the largest file, in bytes.
        types: the content types taken, as sniffed (`image/*` for a family).
        nullable: whether a row may have no file.
    """
    rule = FileRule(image=image, max_size=max_size, types=tuple(types))
    return mapped_column(String(32), nullable=nullable, info={"file": rule})


def file_rule(column: Column[Any]) -> FileRule | None:
    """The rule of a file column, or None for another column."""
    rule = column.info.get("file")
    return rule if isinstance(rule, FileRule) else None
