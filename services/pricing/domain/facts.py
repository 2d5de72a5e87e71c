"""What pricing needs to know: a dataset version's catalog facts and the buyer's profile."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.pricing.domain.primitives import (
    Money,
    Product,
    Segment,
    UpdateFrequency,
    UtcDatetime,
)

Count = Annotated[int, Field(ge=0)]


class ClassificationCounts(BaseModel):
    """How many columns fall in each classification the catalog assigns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    direct_identifier: Count = 0
    quasi_identifier: Count = 0
    sensitive: Count = 0
    attribute: Count = 0

    @property
    def total(self) -> int:
        return self.direct_identifier + self.quasi_identifier + self.sensitive + self.attribute


class DatasetFacts(BaseModel):
    """Catalog facts of one published dataset version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    listing_id: Annotated[str, Field(min_length=1, max_length=64)]
    version: Annotated[int, Field(ge=1)]
    org: Annotated[str, Field(min_length=1)]
    theme: Annotated[str, Field(min_length=1)]
    provinces: tuple[str, ...] = ()
    """Province codes the data covers; empty means national coverage."""
    row_count: Count
    column_count: Annotated[int, Field(ge=1)]
    classification: ClassificationCounts
    quality_score: Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
    update_frequency: UpdateFrequency
    last_updated: UtcDatetime
    list_price: Money | None = None
    """Provider's asking price for the framework's reference access, if any."""
    offered_products: Annotated[tuple[Product, ...], Field(min_length=1)] = (
        Product.DOWNLOAD,
        Product.SANDBOX,
    )
    """Products the provider opened the listing for."""

    @model_validator(mode="after")
    def _check_counts(self) -> DatasetFacts:
        if self.classification.total != self.column_count:
            raise ValueError(
                f"classification counts add up to {self.classification.total}, "
                f"but the dataset has {self.column_count} columns"
            )
        if len(set(self.provinces)) != len(self.provinces):
            raise ValueError("provinces are listed more than once")
        return self


class BuyerProfile(BaseModel):
    """The buying organisation; its segment counts only once an operator verified it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    org: Annotated[str, Field(min_length=1)]
    segment: Segment = Segment.STANDARD
    verified: bool = False
    prior_paid_orders: Count = 0

    @property
    def applied_segment(self) -> Segment:
        return self.segment if self.verified else Segment.STANDARD
