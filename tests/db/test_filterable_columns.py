"""Which columns a filter can name: none whose values no filter can compare on every
database (JSON, arrays). (Value ranges of the others: tests/db/test_query.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import JSON, Integer, MetaData, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stackkit.db.query import build_filters, model_fields
from stackkit.http.problems import ValidationProblem


class _Base(DeclarativeBase):
    metadata = MetaData()


class Bag(_Base):
    __tablename__ = "filterable_bags"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(20))
    data: Mapped[Any] = mapped_column(JSON)
    binary: Mapped[Any] = mapped_column(JSONB)
    numbers: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    words: Mapped[list[str]] = mapped_column(ARRAY(String(20)))


@pytest.mark.parametrize("column", ["data", "binary", "numbers", "words"])
def test_json_and_array_columns_are_not_filterable(column: str) -> None:
    fields = model_fields(Bag)
    assert column not in fields
    assert "label" in fields
    with pytest.raises(ValidationProblem) as raised:
        build_filters({column: "1"}, fields)
    assert [e["field"] for e in raised.value.extensions["errors"]] == [column]
