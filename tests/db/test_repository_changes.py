"""The columns a repository keeps itself are never taken from the changes it is given."""

from __future__ import annotations

from typing import Any

import pytest

from stackkit.db import Database
from tests.db.models import GadgetRepository


@pytest.mark.parametrize(
    "changes",
    [
        {"id": 99},
        {"version": 7},
        {"created_at": "2000-01-01T00:00:00Z"},
        {"updated_at": "2000-01-01T00:00:00Z"},
        {"deleted_at": None},
        {"price": 5, "version": 1},
    ],
    ids=["id", "version", "created_at", "updated_at", "deleted_at", "with-a-real-change"],
)
async def test_update_refuses_the_columns_the_repository_keeps(
    db: Database, changes: dict[str, Any]
) -> None:
    async with db.session() as session:
        gadget = await GadgetRepository(session).create({"name": "anvil", "price": 300})
    with pytest.raises(ValueError, match="maintained by the repository"):
        async with db.session() as session:
            await GadgetRepository(session).update(gadget.id, changes)
    async with db.session(read_only=True) as session:
        after = await GadgetRepository(session).get(gadget.id)
    assert after is not None
    assert (after.id, after.version, after.price) == (gadget.id, 1, 300)
