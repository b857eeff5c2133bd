"""The JSON Schemas `GET /api/meta/resources` gives the UI's forms (`FormSchemas`)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from stackkit.resources.meta import FormSchemas


def test_meta_gives_a_decimals_scale() -> None:
    class Price(BaseModel):
        amount: Decimal = Field(max_digits=12, decimal_places=2)
        discount: Decimal | None = Field(None, max_digits=5, decimal_places=1)
        free: Decimal

    properties = Price.model_json_schema(schema_generator=FormSchemas)["properties"]
    assert properties["amount"]["x-decimal-places"] == 2
    assert properties["discount"]["anyOf"][0]["x-decimal-places"] == 1
    assert "x-decimal-places" not in str(properties["free"])
