"""Full-text search (`stackkit.db.search`): the index a migration makes, ranked and
paged searches, autogenerate's comparison; on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, MetaData, String, Text, select, text
from sqlalchemy.orm import Mapped, mapped_column

from stackkit.db import Database, Model, Repository
from stackkit.db.migration_env import include_name
from stackkit.db.search import MAX_WORDS, is_search_table, search_words, searched_rows
from stackkit.db.search_migrations import CreateSearchIndexOp, DropSearchIndexOp
from stackkit.errors import ValidationProblem
from stackkit.testing import temporary_database


class Article(Model):
    __tablename__ = "search_articles"
    __search__ = ("title", "body")
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), default="post")


class ArticleRepository(Repository[Article]):
    model = Article
    filterable = ("kind",)


def _make_index(connection: Connection) -> None:
    Operations(MigrationContext.configure(connection)).create_search_index(
        "search_articles", ["title", "body"]
    )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with Database(database_url, cursor_secret="test-cursor-secret") as database:
        async with database.engine.begin() as connection:
            await connection.run_sync(Model.metadata.create_all, tables=[Article.__table__])
            await connection.run_sync(_make_index)
        yield database


async def add(db: Database, *rows: dict[str, Any]) -> list[Article]:
    async with db.session() as session:
        repository = ArticleRepository(session)
        return [await repository.create(row) for row in rows]


async def found(db: Database, words: str, **options: Any) -> list[str]:
    async with db.session(read_only=True) as session:
        page = await ArticleRepository(session, cursors=db.cursors).page(search=words, **options)
    return [row.title for row in page.items]


async def test_a_search_finds_rows_with_every_word_best_first(db: Database) -> None:
    await add(
        db,
        {"title": "Garden", "body": "tomato tomato tomato and basil"},
        {"title": "Kitchen", "body": "a tomato soup"},
        {"title": "Basil pesto", "body": "with basil and tomato"},
        {"title": "Nothing", "body": None},
    )
    ranked = await found(db, "tomato")
    assert ranked[0] == "Garden"  # the word most often, in a short text
    assert sorted(ranked) == ["Basil pesto", "Garden", "Kitchen"]
    assert set(await found(db, "basil tomato")) == {"Garden", "Basil pesto"}
    assert await found(db, "BASIL pesto") == ["Basil pesto"]  # any case, title and body
    assert await found(db, "cucumber") == []
    assert await found(db, "tomato", filters={"kind": "draft"}) == []
    assert await found(db, "tomato", sort="title") == ["Basil pesto", "Garden", "Kitchen"]


async def test_the_index_follows_inserts_changes_and_deletes(db: Database) -> None:
    (row,) = await add(db, {"title": "first words", "body": "alpha"})
    assert await found(db, "alpha") == ["first words"]
    async with db.session() as session:
        await ArticleRepository(session).update(row.id, {"body": "beta"})
    assert await found(db, "alpha") == []
    assert await found(db, "beta") == ["first words"]
    async with db.session() as session:
        await ArticleRepository(session).delete(row.id)
    assert await found(db, "beta") == []


async def test_rows_made_before_the_index_are_found(database_url: str) -> None:
    async with Database(database_url) as database:
        async with database.engine.begin() as connection:
            await connection.run_sync(Model.metadata.create_all, tables=[Article.__table__])
        await add(database, {"title": "old row", "body": "gamma"})
        async with database.engine.begin() as connection:
            await connection.run_sync(_make_index)
        assert await found(database, "gamma") == ["old row"]


async def test_pages_of_ranked_results_have_every_row_once(db: Database) -> None:
    await add(db, *({"title": f"row {n}", "body": "word " * (n % 4 + 1)} for n in range(23)))
    seen: list[int] = []
    cursor = None
    async with db.session(read_only=True) as session:
        repository = ArticleRepository(session, cursors=db.cursors)
        while True:
            page = await repository.page(search="word", limit=5, cursor=cursor)
            seen += [row.id for row in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(seen) == 23
        assert len(set(seen)) == 23
        first = await repository.page(search="word", limit=5)
        with pytest.raises(ValidationProblem) as refused:
            await repository.page(search="other", limit=5, cursor=first.next_cursor)
        assert refused.value.extensions["errors"][0]["field"] == "cursor"


async def test_a_rank_and_a_cursor_owe_nothing_to_rows_out_of_sight(db: Database) -> None:
    """Rows the caller cannot see (another user's; here another kind) change neither
    the ranks of theirs, which their cursors carry, nor which rows the pages hold."""
    await add(db, *({"title": f"mine {n}", "body": "merger " * (n + 1)} for n in range(4)))
    mine = {"filters": {"kind": "post"}, "limit": 1}

    async def page(cursor: str | None = None) -> Any:
        async with db.session(read_only=True) as session:
            repository = ArticleRepository(session, cursors=db.cursors)
            return await repository.page(search="merger", cursor=cursor, **mine)

    first = await page()
    seen = [row.id for row in first.items]
    cursor = first.next_cursor
    others = ({"title": "theirs", "body": "merger " * n, "kind": "draft"} for n in range(1, 30))
    while cursor is not None:
        await add(db, next(others))  # written between the caller's pages
        following = await page(cursor)
        seen += [row.id for row in following.items]
        cursor = following.next_cursor
    assert len(seen) == 4
    assert len(set(seen)) == 4
    assert (await page()).next_cursor == first.next_cursor  # the same rank, to the bit


@pytest.mark.parametrize(
    "words",
    ['title:secret', "NEAR(a b)", '"', "*", "a OR b", "-x", "'); DROP TABLE x; --", "a AND",
     "^start", "col:*", "😀 tomato", "NOT", "(", "ü"],
)  # fmt: skip
async def test_a_search_is_words_never_syntax(db: Database, words: str) -> None:
    await add(db, {"title": "tomato", "body": "secret"})
    if not search_words(words):
        with pytest.raises(ValidationProblem):
            await found(db, words)
        return
    assert await found(db, words) in ([], ["tomato"])


@pytest.mark.parametrize("words", ["", "   ", "!!!", "--"])
async def test_a_search_without_a_word_is_a_422(db: Database, words: str) -> None:
    with pytest.raises(ValidationProblem) as refused:
        await found(db, words)
    assert refused.value.extensions["errors"][0]["field"] == "q"


def test_words_are_letters_and_digits_at_most_twenty() -> None:
    assert search_words("Tomato, basil; 2 cups!") == ["Tomato", "basil", "2", "cups"]
    assert len(search_words("w " * 50)) == MAX_WORDS


def _compare(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"include_name": include_name, "target_metadata": _metadata()}
    )
    return compare_metadata(context, _metadata())


def _metadata() -> MetaData:
    metadata = MetaData()
    Article.__table__.to_metadata(metadata)
    return metadata


async def test_autogenerate_makes_the_index_and_then_leaves_it_alone(database_url: str) -> None:
    async with Database(database_url) as database, database.engine.begin() as connection:
        await connection.run_sync(Model.metadata.create_all, tables=[Article.__table__])
        before = await connection.run_sync(_compare)
        assert before == [("add_search_index", "search_articles", ["title", "body"])]
        await connection.run_sync(_make_index)
        # Neither FTS5's tables nor PostgreSQL's expression index are "extra".
        assert await connection.run_sync(_compare) == []
        await connection.run_sync(
            lambda sync: Operations(MigrationContext.configure(sync)).drop_search_index(
                "search_articles", ["title"]
            )
        )
        assert await connection.run_sync(_compare) == before


def test_the_search_index_op_reverses() -> None:
    op = CreateSearchIndexOp("notes", ["title"])
    assert isinstance(op.reverse(), DropSearchIndexOp)
    assert op.reverse().reverse().columns == ["title"]


def test_only_the_search_tables_of_searched_tables_are_left_out() -> None:
    assert is_search_table("search_articles_search")
    assert is_search_table("search_articles_search_data")
    assert not is_search_table("saved_search")  # a table of the app's own
    assert not is_search_table("search_articles")
    assert is_search_table("ix_search_articles_search")  # PostgreSQL's index
    assert not is_search_table("ix_search_articles_kind")


def test_search_names_columns_of_the_table() -> None:
    with pytest.raises(TypeError, match="no column"):

        class Broken(Model):
            __tablename__ = "search_broken"
            __search__ = ("missing",)
            title: Mapped[str] = mapped_column(String(20))

    Model.metadata.remove(Model.metadata.tables["search_broken"])


async def test_postgresql_searches_through_the_gin_index(postgres_server_url: str) -> None:
    with temporary_database(postgres_server_url) as database_url:
        async with Database(database_url) as database, database.engine.begin() as connection:
            await connection.run_sync(Model.metadata.create_all, tables=[Article.__table__])
            await connection.run_sync(_make_index)
            query, _ = searched_rows(select(Article.id), Article.__table__, "postgresql", "tomato")
            await connection.execute(text("SET LOCAL enable_seqscan = off"))
            compiled = query.compile(
                connection.sync_connection, compile_kwargs={"literal_binds": True}
            )
            plan = (await connection.execute(text(f"EXPLAIN {compiled}"))).scalars().all()
    assert any("ix_search_articles_search" in line for line in plan), plan
