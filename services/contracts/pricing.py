"""Events of pricing: policy activations and issued quotes."""

from __future__ import annotations

from pydantic import AwareDatetime

from services.contracts.envelope import EventPayload, register
from services.contracts.topics import PRICING_POLICIES, PRICING_QUOTES


@register
class PolicyActivated(EventPayload):
    """A policy version becomes (or will become) the one new quotes use."""

    event_type = "vn.vndx.pricing.policy.activated.v1"
    topic = PRICING_POLICIES

    version: str
    effective_from: AwareDatetime
    sha256: str
    activated_by: str

    def aggregate_id(self) -> str:
        return self.version


@register
class QuoteIssued(EventPayload):
    """A signed quote was given to a buyer."""

    event_type = "vn.vndx.pricing.quote.issued.v1"
    topic = PRICING_QUOTES

    quote_id: str
    listing_id: str
    listing_version: int
    buyer_org: str
    segment: str
    product: str
    duration_days: int
    total: int
    currency: str
    policy_version: str
    expires_at: AwareDatetime
    purpose: str | None = None
    justification: str | None = None

    def aggregate_id(self) -> str:
        return self.quote_id
