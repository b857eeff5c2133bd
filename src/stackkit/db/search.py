"""Full-text search of a model's text columns: PostgreSQL's `tsvector` with a GIN index,
SQLite's FTS5.

A model names the columns it is searched by:

    class Note(Model):
        __search__ = ("title", "body")
        title: Mapped[str] = mapped_column(String(200))
        body: Mapped[str | None] = mapped_column(Text)

and its repository's lists then take a search (`?q=` in the API), ranked. The index
comes from a migration, which autogenerate writes (`op.create_search_index`, from
`stackkit.db.search_migrations`):

- PostgreSQL: a GIN index on `to_tsvector('simple', title || ' ' || body)`; queries go
  through `websearch_to_tsquery`, so `"exact phrase"`, `or` and `-word` work, and
  rows are ranked by `ts_rank`. The `simple` configuration neither stems nor drops
  stop words, whatever the language.
- SQLite: an FTS5 table `<table>_search` over the columns, kept in step with the
  table by triggers; every word of the query must appear (as a word or the start of
  one), and rows are ranked by BM25's weight of the words they hold (from the row
  alone: see `_row_rank`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Double,
    Select,
    Table,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    table,
)

__all__ = [
    "SEARCH_CONFIG",
    "fts_table",
    "index_name",
    "is_search_table",
    "make_searchable",
    "search_columns",
    "search_words",
    "searched_rows",
]

SEARCH_CONFIG = "simple"
"""PostgreSQL's text search configuration: no stemming, no stop words."""
MAX_WORDS = 20
"""The most words a search takes."""
_WORD = re.compile(r"\w+")


_SEARCHED_TABLES: dict[str, tuple[str, ...]] = {}
"""The searched columns of each searched table, by name: kept apart from the `Table`
(whose `info` Alembic would write into every revision), and found again for copies of
it (autogenerate's)."""


def make_searchable(searched: Table, columns: Sequence[str]) -> None:
    """Mark `searched` as searched by `columns` (what `Model.__search__` does)."""
    for column in columns:
        if column not in searched.c:
            raise TypeError(f"__search__ names {column!r}, which is no column of {searched.name}")
    _SEARCHED_TABLES[searched.name] = tuple(columns)


def is_search_table(name: str) -> bool:
    """Whether `name` is the search index of a searched table: PostgreSQL's index, or
    SQLite's FTS5 table and its shadow tables. No model declares them, and autogenerate
    leaves them alone."""
    found = re.fullmatch(r"(?:ix_)?(.+)_search(_data|_idx|_content|_docsize|_config)?", name)
    return found is not None and found.group(1) in _SEARCHED_TABLES


def search_columns(searched: Table) -> tuple[str, ...]:
    """The columns `searched` is searched by (`Model.__search__`); none: not searchable."""
    return _SEARCHED_TABLES.get(searched.name, ())


def index_name(searched: str) -> str:
    """The PostgreSQL index of a table's search."""
    return f"ix_{searched}_search"


def fts_table(searched: str) -> str:
    """The SQLite FTS5 table of a table's search (its triggers add a suffix)."""
    return f"{searched}_search"


def search_words(query: str) -> list[str]:
    """The words of `query` (letters and digits, any script), at most `MAX_WORDS`."""
    return _WORD.findall(query)[:MAX_WORDS]


def _document(columns: Sequence[str]) -> str:
    """The text PostgreSQL indexes: the columns, nulls as empty, one space apart."""
    parts = [f"coalesce({checked_name(column)}, '')" for column in columns]
    return " || ' ' || ".join(parts)


def vector_sql(columns: Sequence[str]) -> str:
    # Literally the index's expression, so that the planner uses the index.
    return f"to_tsvector('{SEARCH_CONFIG}'::regconfig, {_document(columns)})"


def searched_rows(
    query: Select[Any], searched: Table, dialect: str, words: str
) -> tuple[Select[Any], ColumnElement[float]]:
    """`query` (rows of `searched`) kept to those that match `words`, and their rank:
    higher is better, a double on both databases, so that page cursors compare it
    exactly.

    Raises:
        ValueError: `words` has no word to look for.
    """
    found = search_words(words)
    if not found:
        raise ValueError("give a word to search for")
    columns = search_columns(searched)
    if dialect == "postgresql":
        vector: ColumnElement[Any] = literal_column(
            vector_sql([f"{searched.name}.{c}" for c in columns])
        )
        tsquery = func.websearch_to_tsquery(
            literal_column(f"'{SEARCH_CONFIG}'::regconfig"), bindparam(None, words.strip())
        )
        return query.where(vector.op("@@")(tsquery)), cast(func.ts_rank(vector, tsquery), Double)
    # FTS5: each word quoted (none of FTS5's operators gets through), as a prefix.
    match = " ".join('"' + word.replace('"', '""') + '"*' for word in found)
    fts = fts_table(searched.name)
    marked, size = _marked_and_size(fts, columns)
    matched = (
        select(literal_column("rowid").label("id"), marked.label("marked"), size.label("size"))
        .select_from(table(fts))
        .where(literal_column(checked_name(fts)).op("MATCH")(bindparam(None, match)))
        .subquery()
    )
    joined = query.join(matched, matched.c.id == searched.c.id)
    hits = matched.c.marked - matched.c.size  # one character marks each hit
    return joined, cast(_row_rank(hits, matched.c.size), Double)


def _marked_and_size(fts: str, columns: Sequence[str]) -> tuple[ColumnElement[int], ...]:
    """A matching row's length in characters with `highlight()`'s marks, one for each
    hit, and without, in the query of the FTS5 table `fts`."""
    marked = " + ".join(
        f"coalesce(length(highlight({checked_name(fts)}, {index}, char(1), '')), 0)"
        for index in range(len(columns))
    )
    size = " + ".join(
        f"coalesce(length({checked_name(f'{fts}.{column}')}), 0)" for column in columns
    )
    return literal_column(f"({marked})"), literal_column(f"({size})")


def _row_rank(hits: ColumnElement[int], size: ColumnElement[int]) -> ColumnElement[Any]:
    """SQLite's rank of a matching row, from the row alone: BM25's weight of the words
    it holds, without BM25's weight of how rare they are across the table.

    FTS5's own `bm25()` takes that weight from every row of the table, everyone's: a
    user's ranks would change with other users' rows, telling them how many hold a
    word, and a page cursor (which carries the rank) would then miss or repeat rows.
    A row's length in characters stands for its length in words, 200 characters an
    average text; 1.2 and 0.75 are BM25's usual k1 and b.
    """
    return hits * 1.0 / (hits + 1.2 * (0.25 + 0.75 * size / 200.0))


def checked_name(name: str) -> str:
    """`name` (`table` or `table.column`), which goes into SQL as written: only plain
    identifiers, as the models declare them."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", name):
        raise ValueError(f"{name!r} is not a plain table or column name")
    return name
