"""What orders reads from a signed quote (its own view; pricing is never imported).

Unknown quote fields (the rule trace) are ignored here but still covered by the
signature, which is checked over the document exactly as received. The buyer's declared
``purpose`` and ``justification`` are kept: the order, and the grant after it, inherit them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.orders.domain.errors import QuoteNotYours, QuoteRejected

MAX_SAFE_INTEGER = 2**53 - 1
Money = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER, strict=True)]
Utc = Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))]


class _Terms(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class QuoteLineTerms(_Terms):
    code: str
    label_vi: str = ""
    label_en: str = ""
    amount: Annotated[int, Field(strict=True)]
    kind: str


class SplitTerms(_Terms):
    """How the total divides: the four parts add up to the total."""

    platform_fee: Money
    agency_share: Money
    budget_share: Money
    vat: Money

    @property
    def total(self) -> int:
        return self.platform_fee + self.agency_share + self.budget_share + self.vat


class QuoteTerms(_Terms):
    """The fields of a quote that an order keeps."""

    id: str = Field(min_length=1, max_length=64)
    listing_id: str = Field(min_length=1, max_length=64)
    listing_version: int = Field(ge=1)
    product: Literal["download", "sandbox"]
    duration_days: int = Field(ge=1)
    buyer_org: str = Field(min_length=1, max_length=64)
    segment: str
    purpose: str | None = None
    justification: str | None = None
    lines: list[QuoteLineTerms]
    total: Money
    currency: Literal["VND"]
    policy_version: str
    issued_at: Utc
    expires_at: Utc
    split: SplitTerms
    key_id: str = Field(min_length=1)
    signature: str = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> QuoteTerms:
        if self.split.total != self.total:
            raise ValueError(f"split adds up to {self.split.total}, not to the total {self.total}")
        return self

    def check_usable_by(self, org: str, now: datetime) -> None:
        """Refuse a quote issued to someone else or past its expiry."""
        if self.buyer_org != org:
            raise QuoteNotYours(
                "this quote was issued to another organisation", field="quote.buyer_org"
            )
        if now >= self.expires_at:
            raise QuoteRejected(
                f"the quote expired at {self.expires_at.isoformat()}; ask for a new one",
                field="quote.expires_at",
            )
