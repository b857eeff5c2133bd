"""Entity tags and the conditional headers that carry them, as RFC 9110 (section 13) says.

    tags = parse_entity_tags('W/"2", "3"')   # [EntityTag("2", weak=True), EntityTag("3")]
    any_strong_match(tags, EntityTag("3"))   # True: If-Match compares strongly
    any_weak_match(tags, EntityTag("2"))     # True: If-None-Match compares weakly

- `If-Match` uses the strong comparison: a weak tag (`W/"3"`) never matches, even the
  same version (RFC 9110, 13.1.1).
- `If-None-Match` uses the weak comparison: `W/"3"` and `"3"` match (13.1.2).
- `*` alone matches any current representation; `*` among tags is malformed.
- Lists may hold empty elements (`"1", , "2"`), which count for nothing (5.6.1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "ANY",
    "EntityTag",
    "any_strong_match",
    "any_weak_match",
    "none_match",
    "parse_entity_tag",
    "parse_entity_tags",
]

ANY: Final = "*"
"""What `parse_entity_tags` returns for `*`: any current representation."""

# etagc = %x21 / %x23-7E / obs-text: every visible octet but DQUOTE, and 0x80-0xFF
# (header values arrive decoded as latin-1, one character per octet).
_TAG = re.compile(r'[ \t]*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*')


@dataclass(frozen=True)
class EntityTag:
    """An entity tag: its opaque value (without the quotes) and whether it is weak."""

    opaque: str
    weak: bool = False

    def __str__(self) -> str:
        return f'{"W/" if self.weak else ""}"{self.opaque}"'


def parse_entity_tag(value: str) -> EntityTag | None:
    """One entity tag (`"3"`, `W/"3"`), or None if `value` is not one."""
    match = _TAG.fullmatch(value)
    return None if match is None else EntityTag(match.group(2), weak=match.group(1) is not None)


def parse_entity_tags(value: str) -> Literal["*"] | list[EntityTag] | None:
    """The value of `If-Match` or `If-None-Match`: `ANY` for `*`, else the list of tags
    (possibly empty: `, ,`), or None when `value` is malformed.

    A tag's opaque value may hold a comma, so the list is split by scanning tags, not
    by splitting on commas.
    """
    if value.strip(" \t") == ANY:
        return ANY
    tags: list[EntityTag] = []
    position, end = 0, len(value)
    while True:
        match = _TAG.match(value, position)
        if match is not None:
            tags.append(EntityTag(match.group(2), weak=match.group(1) is not None))
            position = match.end()
        else:  # an empty element, maybe with blanks
            while position < end and value[position] in " \t":
                position += 1
        if position == end:
            return tags
        if value[position] != ",":
            return None
        position += 1


def any_strong_match(tags: Sequence[EntityTag], current: EntityTag) -> bool:
    """Whether one of `tags` matches `current` by the strong comparison: both strong,
    the same opaque value."""
    return not current.weak and any(not tag.weak and tag.opaque == current.opaque for tag in tags)


def any_weak_match(tags: Sequence[EntityTag], current: EntityTag) -> bool:
    """Whether one of `tags` matches `current` by the weak comparison: the same opaque
    value, weak or not."""
    return any(tag.opaque == current.opaque for tag in tags)


def none_match(if_none_match: str | None, current: EntityTag | None) -> bool:
    """Whether an `If-None-Match` value matches the `current` representation, so that a
    GET answers 304: `*` matches any, tags by the weak comparison (13.1.2). A missing or
    malformed value, or no current tag, matches nothing."""
    if if_none_match is None or current is None:
        return False
    condition = parse_entity_tags(if_none_match)
    if condition is None:
        return False
    return condition == ANY or any_weak_match(condition, current)
