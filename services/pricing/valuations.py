"""Valuation records: the value of a listing version under a policy, computed once.

The dataset's value is what the policy's valuation rules give before any product,
duration or buyer enters (the lines ahead of the ``product`` line). Alongside it the
record keeps a reference price: the first product the listing offers, for 30 days
(or the product's shortest duration), to a standard buyer.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from services.pricing.adapters.orm import ValuationRow, aware
from services.pricing.domain import BuyerProfile, DatasetFacts, Policy, PricedQuote, price

REFERENCE_DAYS = 30
REFERENCE_BUYER = BuyerProfile(org="vndx-reference")


def reference_access(policy: Policy, facts: DatasetFacts) -> tuple[str, int] | None:
    """The product and duration a valuation quotes, or None if the policy sells none."""
    for product, terms in policy.products.items():
        if product in facts.offered_products:
            days = REFERENCE_DAYS if REFERENCE_DAYS in terms.durations else terms.durations[0]
            return product.value, days
    return None


def dataset_value(priced: PricedQuote) -> int:
    value = 0
    for line in priced.lines:
        if line.code == "product":
            break
        value += line.amount
    return value


def value_version(
    session: Session, policy: Policy, facts: DatasetFacts, now: datetime
) -> ValuationRow | None:
    """Store the valuation of ``facts`` under ``policy`` unless it exists; return the new row."""
    existing = session.exec(
        select(ValuationRow.id).where(
            ValuationRow.listing_id == facts.listing_id,
            ValuationRow.version == facts.version,
            ValuationRow.policy_version == policy.version,
        )
    ).first()
    access = reference_access(policy, facts)
    if existing is not None or access is None:
        return None
    product, days = access
    priced = price(policy, facts, product, days, REFERENCE_BUYER, now)
    row = ValuationRow(
        listing_id=facts.listing_id,
        version=facts.version,
        policy_version=policy.version,
        dataset_value=dataset_value(priced),
        reference_product=product,
        reference_duration_days=days,
        reference_total=priced.total,
        detail=json.dumps(
            {
                "lines": [line.model_dump(mode="json") for line in priced.lines],
                "trace": [step.model_dump(mode="json") for step in priced.trace],
            },
            ensure_ascii=False,
        ),
        valued_at=now,
    )
    session.add(row)
    return row


def valuations_of(session: Session, listing_id: str) -> list[ValuationRow]:
    statement = (
        select(ValuationRow)
        .where(ValuationRow.listing_id == listing_id)
        .order_by(col(ValuationRow.version), col(ValuationRow.valued_at))
    )
    return list(session.exec(statement).all())


def valuation_view(row: ValuationRow) -> dict[str, Any]:
    detail: dict[str, Any] = json.loads(row.detail)
    return {
        "listing_id": row.listing_id,
        "version": row.version,
        "policy_version": row.policy_version,
        "dataset_value": row.dataset_value,
        "reference": {
            "product": row.reference_product,
            "duration_days": row.reference_duration_days,
            "total": row.reference_total,
        },
        "valued_at": aware(row.valued_at).isoformat(),
        **detail,
    }
