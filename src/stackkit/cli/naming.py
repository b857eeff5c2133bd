"""English plurals and singulars of resource names, from the `inflect` library.

`stackkit generate resource` names a model by one row (`Category`) and its table,
path and resource by many (`categories`). Only the last word of a snake_case name
changes (`blog_post` -> `blog_posts`). Why `inflect`, and not `inflection`: it is
maintained, and it knows irregular nouns (`person` -> `people`, `analysis` ->
`analyses`) and `-s` singulars (`status`, `campus`) that a rule list gets wrong.
It costs about a second to import, so it is imported only when a name is derived.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import inflect

__all__ = ["plural", "singular"]

# Where inflect's rules give an unexpected plural for a common resource name.
_PLURALS = {"todo": "todos"}


def plural(name: str, *, alternates: bool = True) -> str:
    """`category` -> `categories`, `blog_post` -> `blog_posts`; a plural is kept.

    `alternates`: a regular plural of a word whose usual plural is irregular
    (`persons`, beside `people`) is a plural. Off only to replay a resource generated
    before that rule (`stackkit upgrade`), so that it keeps the names it was given.
    """
    head, last = _split(name)
    if not last or _is_plural(last, alternates=alternates):
        return name
    return head + _engine().plural_noun(last)


def singular(name: str, *, alternates: bool = True) -> str:
    """`categories` -> `category`, `blog_posts` -> `blog_post`; a singular is kept
    (`alternates`: as for `plural`)."""
    head, last = _split(name)
    if not last or not _is_plural(last, alternates=alternates):
        return name
    return head + str(_engine().singular_noun(last))


def _split(name: str) -> tuple[str, str]:
    head, underscore, last = name.rpartition("_")
    return head + underscore, last


def _is_plural(word: str, *, alternates: bool) -> bool:
    """Whether inflect reads `word` (one lower-case word) as the plural of another word.

    `singular_noun` alone takes any word ending in -s for a plural (`bus` -> `bu`):
    a regular plural (the singular and an `s`) counts only when the word is not
    a singular itself, that is when its own plural does not lead back to it.
    """
    engine = _engine()
    one = engine.singular_noun(word)
    if not one or one == word:
        return False
    usual = engine.plural_noun(one)
    if usual != word:
        # `persons`: the regular plural of a word whose usual one is irregular (`people`)
        return alternates and word == one + "s" and usual not in (one + "s", one + "es")
    if word not in (one + "s", one + "es"):
        return True  # irregular (people, analyses, categories): inflect knows it
    return engine.singular_noun(engine.plural_noun(word)) != word


@cache
def _engine() -> inflect.engine:
    import inflect  # about a second: only when a name is derived

    engine = inflect.engine()
    for one, many in _PLURALS.items():
        engine.defnoun(one, many)
    return engine
