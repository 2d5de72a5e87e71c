"""The book of policy versions: what was activated, when it applies, and its parsed form.

Versions are stored as the operator's YAML text; the version in effect at a time is the
one with the latest ``effective_from`` not after it. Parsed policies are cached by
version and text hash (a stored version never changes).
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from services.pricing.adapters.orm import PolicyVersionRow, aware
from services.pricing.domain import Policy, load_policy


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PolicyCache:
    """Parsed policies by (version, sha256); parsing a policy takes milliseconds."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, str], Policy] = {}
        self._lock = threading.Lock()

    def parsed(self, row: PolicyVersionRow) -> Policy:
        key = (row.version, row.sha256)
        policy = self._parsed.get(key)
        if policy is None:
            policy = load_policy(row.text)
            with self._lock:
                self._parsed[key] = policy
        return policy


def find_version(session: Session, version: str) -> PolicyVersionRow | None:
    return session.get(PolicyVersionRow, version)


def in_effect(session: Session, at: datetime) -> PolicyVersionRow | None:
    """The version with the latest ``effective_from`` not after ``at``."""
    statement = (
        select(PolicyVersionRow)
        .where(col(PolicyVersionRow.effective_from) <= at)
        .order_by(
            col(PolicyVersionRow.effective_from).desc(), col(PolicyVersionRow.activated_at).desc()
        )
        .limit(1)
    )
    return session.exec(statement).first()


def all_versions(session: Session) -> list[PolicyVersionRow]:
    statement = select(PolicyVersionRow).order_by(col(PolicyVersionRow.effective_from))
    return list(session.exec(statement).all())


def has_any(session: Session) -> bool:
    return session.exec(select(PolicyVersionRow.version).limit(1)).first() is not None


def summary(policy: Policy) -> dict[str, Any]:
    """What an operator or buyer wants to see at a glance (decimals as exact strings)."""
    fees = policy.fees
    incentives = policy.incentives
    return {
        "version": policy.version,
        "effective_from": policy.effective_from.isoformat(),
        "description": policy.description,
        "quote_validity_minutes": policy.quote_validity_minutes,
        "products": {
            product.value: {"factor": str(terms.factor), "durations": list(terms.durations)}
            for product, terms in policy.products.items()
        },
        "vat_rate": str(fees.vat_rate),
        "shares": {
            "platform": str(fees.shares.platform),
            "agency": str(fees.shares.agency),
            "state_budget": str(fees.shares.state_budget),
        },
        "minimum_charge": fees.minimum_charge,
        "maximum_charge": fees.maximum_charge,
        "rounding_step": fees.rounding_step,
        "discount_cap": str(incentives.discount_cap),
        "segments": {
            segment.value: {
                "discount_rate": str(terms.discount_rate),
                "waiver": terms.waiver,
                "requires_justification": terms.requires_justification,
            }
            for segment, terms in incentives.segments.items()
        },
        "promotions": [promotion.id for promotion in incentives.promotions],
    }


def row_view(row: PolicyVersionRow, policy: Policy, *, with_text: bool = True) -> dict[str, Any]:
    """A stored version as the API shows it."""
    view: dict[str, Any] = {
        "version": row.version,
        "sha256": row.sha256,
        "effective_from": aware(row.effective_from).isoformat(),
        "activated_at": aware(row.activated_at).isoformat(),
        "activated_by": row.activated_by,
        "summary": summary(policy),
    }
    if with_text:
        view["yaml"] = row.text
    return view
