"""Quotes: the itemised, explained price of one access, and its signable form."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.pricing.domain.canonical import canonical_json
from services.pricing.domain.errors import JustificationRequired
from services.pricing.domain.primitives import (
    ADDITIVE_KINDS,
    MAX_SAFE_INTEGER,
    LineKind,
    Money,
    Product,
    Segment,
    SignedAmount,
    UtcDatetime,
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuoteLine(_Frozen):
    """One itemised line; discounts are negative amounts."""

    code: str
    label_vi: str
    label_en: str
    amount: SignedAmount
    kind: LineKind


class TraceStep(_Frozen):
    """A rule of the policy that fired: its id (a policy field path), inputs and output."""

    rule: str
    inputs: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], str]
    output: str


class RevenueSplit(_Frozen):
    """Who receives what; the four parts add up exactly to the quote total."""

    platform_fee: Money
    agency_share: Money
    budget_share: Money
    vat: Money

    @property
    def total(self) -> int:
        return self.platform_fee + self.agency_share + self.budget_share + self.vat


def _check_arithmetic(lines: tuple[QuoteLine, ...], total: int, split: RevenueSplit) -> None:
    additive = sum(line.amount for line in lines if line.kind in ADDITIVE_KINDS)
    if additive != total:
        raise ValueError(f"lines add up to {additive}, not to the total {total}")
    if split.total != total:
        raise ValueError(f"the revenue split adds up to {split.total}, not to the total {total}")


class PricedQuote(_Frozen):
    """The engine's answer before it becomes a Quote (no id, purpose or signature yet)."""

    listing_id: str
    listing_version: int
    product: Product
    duration_days: int
    buyer_org: str
    declared_segment: Segment
    segment: Segment
    """The segment whose incentives were applied (standard while unverified)."""
    policy_version: str
    lines: tuple[QuoteLine, ...]
    trace: tuple[TraceStep, ...]
    subtotal: Money
    """Value of the access before incentives: sum of base, multiplier and fee lines so far."""
    discount_total: SignedAmount
    """Sum of discount lines (zero or negative), the waiver included."""
    net: Money
    vat: Money
    total: Money
    split: RevenueSplit
    waived: bool
    requires_justification: bool
    priced_at: UtcDatetime
    expires_at: UtcDatetime

    @model_validator(mode="after")
    def _check(self) -> PricedQuote:
        _check_arithmetic(self.lines, self.total, self.split)
        return self


class Quote(_Frozen):
    """What the buyer accepts and the orders service verifies; signed as a whole."""

    id: UUID
    listing_id: str
    listing_version: Annotated[int, Field(ge=1, le=MAX_SAFE_INTEGER)]
    product: Product
    duration_days: Annotated[int, Field(ge=1, le=MAX_SAFE_INTEGER)]
    buyer_org: str
    segment: Segment
    purpose: str | None = None
    justification: str | None = None
    lines: tuple[QuoteLine, ...]
    trace: tuple[TraceStep, ...]
    total: Money
    currency: Literal["VND"] = "VND"
    policy_version: str
    issued_at: UtcDatetime
    expires_at: UtcDatetime
    split: RevenueSplit

    @model_validator(mode="after")
    def _check(self) -> Quote:
        _check_arithmetic(self.lines, self.total, self.split)
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        return self

    def canonical_bytes(self) -> bytes:
        """RFC 8785 (JCS) canonical JSON of every field except `signature`."""
        return canonical_json(self.model_dump(mode="json", exclude={"signature"}))

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class SignedQuote(Quote):
    """A quote with the Ed25519 signature over its canonical bytes (key_id included)."""

    key_id: Annotated[str, Field(min_length=1)]
    signature: Annotated[str, Field(min_length=1)]

    def unsigned(self) -> Quote:
        return Quote.model_validate({name: getattr(self, name) for name in Quote.model_fields})


def make_quote(
    priced: PricedQuote,
    *,
    purpose: str | None = None,
    justification: str | None = None,
    quote_id: UUID | None = None,
) -> Quote:
    """Turn an engine result into a Quote for the buyer's declared purpose."""
    if priced.requires_justification and not (justification and justification.strip()):
        raise JustificationRequired(
            f"segment {priced.segment.value} requires a written justification"
        )
    return Quote(
        id=quote_id or uuid4(),
        listing_id=priced.listing_id,
        listing_version=priced.listing_version,
        product=priced.product,
        duration_days=priced.duration_days,
        buyer_org=priced.buyer_org,
        segment=priced.segment,
        purpose=purpose,
        justification=justification,
        lines=priced.lines,
        trace=priced.trace,
        total=priced.total,
        policy_version=priced.policy_version,
        issued_at=priced.priced_at,
        expires_at=priced.expires_at,
        split=priced.split,
    )
