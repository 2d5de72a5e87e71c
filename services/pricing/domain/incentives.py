"""Incentive rules: which discounts a buyer gets and how the stacking cap limits them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.pricing.domain import labels
from services.pricing.domain.facts import DatasetFacts
from services.pricing.domain.labels import Label
from services.pricing.domain.policy import IncentiveTerms, Promotion
from services.pricing.domain.primitives import Product, Segment


@dataclass(frozen=True, slots=True)
class Discount:
    """A discount the buyer qualifies for, before the cap; `rule` is its policy path."""

    code: str
    label: Label
    rule: str
    rate: Decimal


@dataclass(frozen=True, slots=True)
class CappedDiscount:
    discount: Discount
    rate: Decimal
    """The rate actually granted: the qualifying rate limited by what the cap leaves."""

    @property
    def capped(self) -> bool:
        return self.rate < self.discount.rate


def qualifying_discounts(
    terms: IncentiveTerms,
    facts: DatasetFacts,
    product: Product,
    segment: Segment,
    prior_paid_orders: int,
    now: datetime,
) -> list[Discount]:
    """Segment discount, then the loyalty tier reached, then active promotions in order."""
    found: list[Discount] = []
    segment_rate = terms.segments[segment].discount_rate
    if segment_rate > 0:
        found.append(
            Discount(
                "discount.segment",
                labels.segment_discount(segment, segment_rate),
                f"incentives.segments.{segment.value}",
                segment_rate,
            )
        )
    reached = [t for t in terms.loyalty if prior_paid_orders >= t.min_prior_paid_orders]
    if reached and reached[-1].rate > 0:
        found.append(
            Discount(
                "discount.loyalty",
                labels.loyalty_discount(prior_paid_orders, reached[-1].rate),
                "incentives.loyalty",
                reached[-1].rate,
            )
        )
    for promotion in terms.promotions:
        if promotion.starts_at <= now < promotion.ends_at and _in_scope(
            promotion, facts, product, segment
        ):
            found.append(
                Discount(
                    f"discount.promotion.{promotion.id}",
                    labels.with_rate((promotion.label_vi, promotion.label_en), promotion.rate),
                    f"incentives.promotions.{promotion.id}",
                    promotion.rate,
                )
            )
    return found


def _in_scope(
    promotion: Promotion, facts: DatasetFacts, product: Product, segment: Segment
) -> bool:
    kind, _, value = promotion.scope.partition(":")
    subject = {
        "all": value,
        "theme": facts.theme,
        "org": facts.org,
        "listing": str(facts.listing_id),
        "product": product.value,
        "segment": segment.value,
    }[kind]
    return subject == value


def apply_cap(discounts: list[Discount], cap: Decimal) -> list[CappedDiscount]:
    """Grant discounts in order until their rates add up to the cap; later ones shrink."""
    remaining = cap
    granted: list[CappedDiscount] = []
    for discount in discounts:
        rate = min(discount.rate, remaining)
        remaining -= rate
        granted.append(CappedDiscount(discount, rate))
    return granted
