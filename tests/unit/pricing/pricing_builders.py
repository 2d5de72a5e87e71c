"""Builders and hypothesis strategies shared by the pricing unit tests."""

from __future__ import annotations

import copy
import functools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from services.pricing.domain import (
    BuyerProfile,
    DatasetFacts,
    Policy,
    Product,
    Segment,
    UpdateFrequency,
    load_default_policy,
)
from services.pricing.domain.policy_loader import DEFAULT_POLICY_PATH

NOW = datetime(2025, 8, 15, 3, 0, tzinfo=UTC)
DEFAULT_POLICY = load_default_policy()
DEFAULT_POLICY_TEXT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
THEMES = ("health", "finance", "education", "statistics", "transport")
PROVINCES = ("ha-noi", "hue", "da-nang", "ho-chi-minh", "can-tho", "lao-cai", "gia-lai")


def facts(**changes: Any) -> DatasetFacts:
    """A health dataset from a provincial statistics office; override any fact."""
    data: dict[str, Any] = {
        "listing_id": "5b3e2f7a-1c64-4c1e-9a53-2f1d8a7c0b11",
        "version": 3,
        "org": "cuc-thong-ke-ha-noi",
        "theme": "health",
        "provinces": ("ha-noi",),
        "row_count": 120_000,
        "column_count": 14,
        "classification": {
            "direct_identifier": 1,
            "quasi_identifier": 4,
            "sensitive": 2,
            "attribute": 7,
        },
        "quality_score": "0.9",
        "update_frequency": "monthly",
        "last_updated": datetime(2025, 8, 1, tzinfo=UTC),
        "list_price": None,
    }
    data.update(changes)
    return DatasetFacts.model_validate(data)


def buyer(**changes: Any) -> BuyerProfile:
    data: dict[str, Any] = {
        "org": "cong-ty-khoi-nghiep-an-lanh",
        "segment": "standard",
        "verified": True,
        "prior_paid_orders": 0,
    }
    data.update(changes)
    return BuyerProfile.model_validate(data)


def policy_data() -> dict[str, Any]:
    """The default policy as plain data, to derive variants from."""
    return copy.deepcopy(DEFAULT_POLICY.model_dump(mode="json"))


def policy_with(changes: dict[str, Any]) -> Policy:
    """The default policy with dotted paths replaced, e.g. {'fees.vat_rate': '0.08'}."""
    data = policy_data()
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = data
        for name in parents:
            node = node[name]
        node[leaf] = value
    return Policy.model_validate(data)


# --- hypothesis strategies -------------------------------------------------------------


@functools.cache
def _decimals(low: str, high: str, places: int = 3) -> st.SearchStrategy[Decimal]:
    return st.decimals(Decimal(low), Decimal(high), places=places)


@st.composite
def row_tiers(draw: st.DrawFn) -> list[dict[str, Any]]:
    bounds = sorted(draw(st.sets(st.integers(1, 5_000_000), max_size=3)))
    rates = sorted(
        (draw(_decimals("0", "300", places=2)) for _ in range(len(bounds) + 1)), reverse=True
    )
    tiers: list[dict[str, Any]] = [
        {"up_to": bound, "per_row": str(rate)} for bound, rate in zip(bounds, rates, strict=False)
    ]
    tiers.append({"per_row": str(rates[-1])})
    return tiers


@st.composite
def duration_curves(draw: st.DrawFn, durations: list[int]) -> dict[str, Any]:
    if draw(st.booleans()):
        return {
            "kind": "power",
            "reference_days": draw(st.integers(1, 365)),
            "alpha": str(draw(_decimals("0.01", "1", places=2))),
        }
    slopes = sorted((draw(_decimals("0", "0.2", places=4)) for _ in durations), reverse=True)
    factors: dict[str, str] = {}
    factor, previous_days = Decimal(0), 0
    for days, slope in zip(durations, slopes, strict=True):
        factor += slope * (days - previous_days)
        previous_days = days
        # A factor must be positive: lift a flat start a little, keeping it concave.
        factors[str(days)] = str(factor if factor > 0 else Decimal("0.0001") * days)
    return {"kind": "table", "factors": factors}


@st.composite
def promotions(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Promotions in consecutive windows around NOW, so none overlap whatever the scope."""
    count = draw(st.integers(0, 3))
    start = NOW - timedelta(days=draw(st.integers(0, 40)))
    found = []
    for index in range(count):
        end = start + timedelta(days=draw(st.integers(1, 60)))
        scope = draw(
            st.sampled_from(
                ["all", "theme:health", "product:download", "segment:startup", "org:other"]
            )
        )
        found.append(
            {
                "id": f"promo-{index}",
                "label_vi": f"Khuyến mại {index}",
                "label_en": f"Promotion {index}",
                "rate": str(draw(_decimals("0.01", "1", places=2))),
                "scope": scope,
                "starts_at": start.isoformat(),
                "ends_at": end.isoformat(),
            }
        )
        start = end + timedelta(days=draw(st.integers(0, 10)))
    return found


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """Random valid policies over the whole parameter space."""
    all_days = [1, 7, 14, 30, 60, 90, 180, 365]
    durations = {
        product.value: sorted(draw(st.sets(st.sampled_from(all_days), min_size=1)))
        for product in Product
    }
    products = {
        product: {"factor": str(draw(_decimals("0.1", "2"))), "durations": days}
        for product, days in durations.items()
    }
    union = sorted({d for days in durations.values() for d in days})
    platform_pct = draw(st.integers(0, 100))
    agency_pct = draw(st.integers(0, 100 - platform_pct))
    step = draw(st.sampled_from([1, 10, 100, 1000, 10_000]))
    minimum = step * draw(st.integers(0, 200))
    at_zero = draw(_decimals("0.1", "1.5"))
    national = draw(_decimals("0.5", "2"))
    segments = {}
    for segment in Segment:
        waiver = segment is not Segment.STANDARD and draw(st.integers(0, 5)) == 0
        segments[segment.value] = {
            "discount_rate": str(draw(_decimals("0", "1", places=2))),
            "waiver": waiver,
            "requires_justification": waiver and draw(st.booleans()),
        }
    loyalty_thresholds = sorted(draw(st.sets(st.integers(1, 30), max_size=3)))
    loyalty_rates = sorted(draw(_decimals("0", "0.3", places=2)) for _ in loyalty_thresholds)
    data = {
        "version": f"{draw(st.integers(2025, 2099))}.{draw(st.integers(1, 12))}",
        "effective_from": "2025-01-01T00:00:00+07:00",
        "valuation": {
            "row_tiers": draw(row_tiers()),
            "per_column": str(draw(_decimals("0", "500000", places=0))),
            "classification": {
                "sensitive_uplift_per_column": str(draw(_decimals("0", "0.2"))),
                "quasi_identifier_uplift_per_column": str(draw(_decimals("0", "0.2"))),
                "max_uplift": str(draw(_decimals("0", "1"))),
                "protection_cost_per_sensitive_column": draw(st.integers(0, 1_000_000)),
                "protection_cost_per_quasi_identifier_column": draw(st.integers(0, 1_000_000)),
                "protection_cost_per_direct_identifier_column": draw(st.integers(0, 1_000_000)),
            },
            "quality": {
                "at_zero": str(at_zero),
                "at_one": str(at_zero + draw(_decimals("0", "1"))),
            },
            "freshness": {
                "by_update_frequency": {
                    f.value: str(draw(_decimals("0.5", "1.5"))) for f in UpdateFrequency
                },
                "stale_after_periods": draw(st.integers(1, 5)),
                "stale_factor": str(draw(_decimals("0.1", "1"))),
            },
            "theme": {
                "default": str(draw(_decimals("0.5", "1.5"))),
                "by_theme": {t: str(draw(_decimals("0.5", "1.5"))) for t in THEMES[:2]},
            },
            "coverage": {
                "national": str(national),
                "provincial_base": str(draw(_decimals("0.01", str(national)))),
                "per_province": str(draw(_decimals("0", "0.1"))),
            },
            "list_price": {
                "floor_ratio": str(draw(_decimals("0.1", "1"))),
                "ceiling_ratio": str(draw(_decimals("1", "3"))),
            },
        },
        "products": products,
        "duration_curve": draw(duration_curves(union)),
        "fees": {
            "shares": {
                "platform": str(Decimal(platform_pct) / 100),
                "agency": str(Decimal(agency_pct) / 100),
                "state_budget": str(Decimal(100 - platform_pct - agency_pct) / 100),
            },
            "vat_rate": str(draw(_decimals("0", "0.25", places=2))),
            "minimum_charge": minimum,
            "maximum_charge": minimum + step * draw(st.integers(0, 10**6)),
            "rounding_step": step,
        },
        "incentives": {
            "discount_cap": str(draw(_decimals("0", "1", places=2))),
            "segments": segments,
            "loyalty": [
                {"min_prior_paid_orders": n, "rate": str(r)}
                for n, r in zip(loyalty_thresholds, loyalty_rates, strict=True)
            ],
            "promotions": draw(promotions()),
        },
        "quote_validity_minutes": draw(st.integers(1, 1440)),
    }
    return Policy.model_validate(data)


@st.composite
def dataset_facts(draw: st.DrawFn) -> DatasetFacts:
    counts = {
        "direct_identifier": draw(st.integers(0, 5)),
        "quasi_identifier": draw(st.integers(0, 10)),
        "sensitive": draw(st.integers(0, 10)),
        "attribute": draw(st.integers(0, 40)),
    }
    if sum(counts.values()) == 0:
        counts["attribute"] = 1
    return facts(
        theme=draw(st.sampled_from(THEMES)),
        org=draw(st.sampled_from(["org:other", "other", "cuc-thong-ke-ha-noi"])),
        provinces=tuple(draw(st.lists(st.sampled_from(PROVINCES), unique=True, max_size=4))),
        row_count=draw(st.integers(0, 50_000_000)),
        column_count=sum(counts.values()),
        classification=counts,
        quality_score=draw(_decimals("0", "1", places=2)),
        update_frequency=draw(st.sampled_from(list(UpdateFrequency))),
        last_updated=NOW - timedelta(hours=draw(st.integers(0, 3 * 365 * 24))),
        list_price=draw(st.none() | st.integers(0, 10**10)),
    )


buyers = st.builds(
    lambda segment, verified, prior: buyer(
        segment=segment, verified=verified, prior_paid_orders=prior
    ),
    st.sampled_from(list(Segment)),
    st.booleans(),
    st.integers(0, 40),
)
