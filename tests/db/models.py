"""Tables the data-layer tests work on."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from stackkit.db import Model, Repository, Service, SoftDelete


class Gadget(Model):
    name: Mapped[str] = mapped_column(String(100), unique=True)
    price: Mapped[int] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    rating: Mapped[float | None] = mapped_column(default=None)


class Memo(SoftDelete, Model):
    text: Mapped[str] = mapped_column(String(200))
    gadget_id: Mapped[int | None] = mapped_column(ForeignKey("gadgets.id"), default=None)


TABLES = [Gadget.__table__, Memo.__table__]


class GadgetRepository(Repository[Gadget]):
    model = Gadget
    filterable = ("name", "price", "status", "rating", "created_at")
    sortable = ("name", "price", "status", "rating", "created_at")


class GadgetService(Service[Gadget]):
    repository = GadgetRepository


class MemoService(Service[Memo]):
    repository = Repository.for_model(Memo)
