"""Request bodies of the pricing API (answers are the domain's own JSON documents)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.contracts.catalog import Purpose
from services.pricing.quote_handlers import MAX_JUSTIFICATION_CHARS


class QuoteIn(BaseModel):
    """A buyer's request for a price; `version` defaults to the listing's latest.

    `purpose` is one of the catalog's purpose codes and must be one the listing allows;
    `justification` is free text, signed into the quote with the purpose.
    """

    model_config = ConfigDict(extra="forbid")

    listing_id: Annotated[str, Field(min_length=1, max_length=64)]
    version: Annotated[int, Field(ge=1)] | None = None
    product: Annotated[str, Field(min_length=1, max_length=40)]
    duration_days: Annotated[int, Field(ge=1, le=100_000)]
    purpose: Purpose
    justification: Annotated[str, Field(max_length=MAX_JUSTIFICATION_CHARS)] | None = None


class PolicyIn(BaseModel):
    """A policy to activate: its YAML text and, optionally, when it takes effect."""

    model_config = ConfigDict(extra="forbid")

    policy_yaml: Annotated[str, Field(min_length=1, max_length=1_000_000)]
    effective_from: AwareDatetime | None = None
