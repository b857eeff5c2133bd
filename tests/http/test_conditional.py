"""Entity-tag lists and their comparisons, as RFC 9110 (section 13) says."""

from __future__ import annotations

import pytest

from stackkit.http.conditional import (
    ANY,
    EntityTag,
    any_strong_match,
    any_weak_match,
    parse_entity_tag,
    parse_entity_tags,
)
from stackkit.resources.resource import MAX_VERSION, _version_of

STRONG_12 = EntityTag("12")
WEAK_12 = EntityTag("12", weak=True)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("*", ANY),
        (" * ", ANY),
        ('"12"', [STRONG_12]),
        ('W/"12"', [WEAK_12]),
        ('"11", W/"12" ,"13"', [EntityTag("11"), WEAK_12, EntityTag("13")]),
        ('"a,b", "c"', [EntityTag("a,b"), EntityTag("c")]),
        ('"11", , "12"', [EntityTag("11"), STRONG_12]),
        ('""', [EntityTag("")]),
        ("", []),
        (" , ", []),
        ('"caf\xe9"', [EntityTag("caf\xe9")]),
        ("yesterday", None),
        ("12", None),
        ('"12', None),
        ('"12" "13"', None),
        ('*, "12"', None),
        ('w/"12"', None),
        ('W/ "12"', None),
        ('"a"b"', None),
        ('"tab\there"', None),
        ('"nul\x00"', None),
        ("\t*\t", ANY),
        ("\x0b*", None),
        ("*\x0c", None),
        ("X*", None),
        ('"12", X', None),
        ('"12",\x0b"13"', None),
    ],
    ids=[
        "star", "star-blanks", "strong", "weak", "list", "comma-inside", "empty-element",
        "empty-tag", "empty-value", "only-commas", "obs-text", "bare-word", "unquoted",
        "unterminated", "no-comma", "star-in-list", "lower-case-weak", "blank-after-W/",
        "quote-inside", "tab-inside", "nul-inside", "star-tabs", "star-vertical-tab",
        "star-form-feed", "star-after-a-letter", "letter-element", "vertical-tab-element",
    ],
)  # fmt: skip
def test_entity_tag_lists_are_parsed_as_rfc_9110_writes_them(value: str, parsed: object) -> None:
    assert parse_entity_tags(value) == parsed


@pytest.mark.parametrize(
    ("tags", "current", "strong", "weak"),
    [
        ([STRONG_12], STRONG_12, True, True),
        ([WEAK_12], STRONG_12, False, True),
        ([STRONG_12], WEAK_12, False, True),
        ([WEAK_12], WEAK_12, False, True),
        ([EntityTag("13")], STRONG_12, False, False),
        ([EntityTag("11"), STRONG_12], STRONG_12, True, True),
        ([EntityTag("012")], STRONG_12, False, False),
        ([], STRONG_12, False, False),
    ],
    ids=["same", "weak-asked", "weak-current", "both-weak", "other", "in-list", "octets", "none"],
)
def test_strong_and_weak_comparison(
    tags: list[EntityTag], current: EntityTag, strong: bool, weak: bool
) -> None:
    assert any_strong_match(tags, current) is strong
    assert any_weak_match(tags, current) is weak


def test_one_entity_tag_round_trips() -> None:
    assert parse_entity_tag('W/"12"') == WEAK_12
    assert parse_entity_tag('"12"') == STRONG_12
    assert str(WEAK_12) == 'W/"12"'
    assert str(STRONG_12) == '"12"'
    assert parse_entity_tag('"12", "13"') is None


# Which tags name a version of a resource (`http/resource.py`): only `"<n>"` as
# `etag_for` writes it, 1 to MAX_VERSION.
VERSIONS = {
    "one": (EntityTag("1"), 1),
    "two-digits": (EntityTag("12"), 12),
    "max": (EntityTag(str(MAX_VERSION)), MAX_VERSION),
    "past-max": (EntityTag(str(MAX_VERSION + 1)), None),
    "eleven-digits": (EntityTag("1" * 11), None),
    "zero": (EntityTag("0"), None),
    "leading-zero": (EntityTag("03"), None),
    "weak": (EntityTag("3", weak=True), None),
    "not-digits": (EntityTag("3a"), None),
    "non-ascii-digit": (EntityTag("\u0663"), None),  # ARABIC-INDIC DIGIT THREE
}


@pytest.mark.parametrize(("tag", "version"), VERSIONS.values(), ids=VERSIONS)
def test_a_strong_tag_of_a_version_names_it_and_no_other_does(
    tag: EntityTag, version: int | None
) -> None:
    assert _version_of(tag) == version
