"""Shared vocabulary of the pricing domain: enums and constrained field types."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field


class Product(StrEnum):
    """How a buyer uses the data: a downloaded extract or queries in a sandbox."""

    DOWNLOAD = "download"
    SANDBOX = "sandbox"


class Segment(StrEnum):
    """Buyer segments that incentives are defined for."""

    STANDARD = "standard"
    STARTUP = "startup"
    SME = "sme"
    RESEARCH_EDUCATION = "research_education"
    PUBLIC_INTEREST = "public_interest"
    FOREIGN = "foreign"


class UpdateFrequency(StrEnum):
    """How often the provider refreshes a dataset."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"
    IRREGULAR = "irregular"
    ONCE = "once"


PERIOD_DAYS: dict[UpdateFrequency, int | None] = {
    UpdateFrequency.DAILY: 1,
    UpdateFrequency.WEEKLY: 7,
    UpdateFrequency.MONTHLY: 31,
    UpdateFrequency.QUARTERLY: 92,
    UpdateFrequency.YEARLY: 366,
    UpdateFrequency.IRREGULAR: None,
    UpdateFrequency.ONCE: None,
}
"""Longest length of one update period (as the catalog measures it); data without a
schedule never goes stale."""


class LineKind(StrEnum):
    """What a quote line is; see ADDITIVE_KINDS for which ones add up to the total."""

    BASE = "base"
    MULTIPLIER = "multiplier"
    DISCOUNT = "discount"
    FEE = "fee"
    SHARE = "share"
    TAX = "tax"
    TOTAL = "total"


ADDITIVE_KINDS = frozenset(
    {LineKind.BASE, LineKind.MULTIPLIER, LineKind.DISCOUNT, LineKind.FEE, LineKind.TAX}
)
"""Lines of these kinds sum exactly to the total; share and total lines restate it."""


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
Rate = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
Factor = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
NonNegativeDecimal = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer JSON (RFC 8785) carries exactly; far above any amount in đồng."""
Money = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER)]
SignedAmount = Annotated[int, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)]
