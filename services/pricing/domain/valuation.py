"""Valuation rules: the factors and amounts a dataset version's catalog facts lead to.

Each function applies one part of `ValuationTerms` (or the duration curve) and returns
exact Decimals; derived factors are rounded to 6 places (see money.py).
"""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal, localcontext

from services.pricing.domain.facts import ClassificationCounts, DatasetFacts
from services.pricing.domain.money import MONEY_CONTEXT, round_factor, round_half_up
from services.pricing.domain.policy import (
    ClassificationTerms,
    CoverageTerms,
    DurationCurve,
    FreshnessTerms,
    ListPriceBounds,
    PowerCurve,
    QualityTerms,
    RowTier,
    ThemeTerms,
)
from services.pricing.domain.primitives import PERIOD_DAYS, UpdateFrequency


def row_value(tiers: tuple[RowTier, ...], row_count: int) -> Decimal:
    """Sum over tiers of (rows falling in the tier) x (the tier's value per row)."""
    value = Decimal(0)
    lower = 0
    for tier in tiers:
        upper = row_count if tier.up_to is None else min(row_count, tier.up_to)
        if upper > lower:
            value += (upper - lower) * tier.per_row
        if tier.up_to is None or row_count <= tier.up_to:
            break
        lower = tier.up_to
    return value


def valued_columns(facts: DatasetFacts) -> int:
    """Direct identifiers are removed from every extract, so they carry no value."""
    return facts.column_count - facts.classification.direct_identifier


def classification_factor(terms: ClassificationTerms, counts: ClassificationCounts) -> Decimal:
    uplift = (
        counts.sensitive * terms.sensitive_uplift_per_column
        + counts.quasi_identifier * terms.quasi_identifier_uplift_per_column
    )
    return round_factor(1 + min(uplift, terms.max_uplift))


def protection_cost(terms: ClassificationTerms, counts: ClassificationCounts) -> int:
    return (
        counts.sensitive * terms.protection_cost_per_sensitive_column
        + counts.quasi_identifier * terms.protection_cost_per_quasi_identifier_column
        + counts.direct_identifier * terms.protection_cost_per_direct_identifier_column
    )


def quality_factor(terms: QualityTerms, score: Decimal) -> Decimal:
    return round_factor(terms.at_zero + (terms.at_one - terms.at_zero) * score)


def is_stale(
    terms: FreshnessTerms, frequency: UpdateFrequency, last_updated: datetime, now: datetime
) -> bool:
    """Overdue when more than `stale_after_periods` update periods passed without one."""
    period = PERIOD_DAYS[frequency]
    if period is None:
        return False
    return (now - last_updated).total_seconds() > terms.stale_after_periods * period * 86_400


def freshness_factor(terms: FreshnessTerms, frequency: UpdateFrequency, stale: bool) -> Decimal:
    factor = terms.by_update_frequency[frequency]
    return round_factor(factor * terms.stale_factor if stale else factor)


def theme_factor(terms: ThemeTerms, theme: str) -> Decimal:
    return round_factor(terms.by_theme.get(theme, terms.default))


def coverage_factor(terms: CoverageTerms, province_count: int) -> Decimal:
    if province_count == 0:
        return round_factor(terms.national)
    provincial = terms.provincial_base + province_count * terms.per_province
    return round_factor(min(terms.national, provincial))


def list_price_target(bounds: ListPriceBounds, framework_value: int, list_price: int) -> int:
    """The provider's list price, kept within [floor_ratio, ceiling_ratio] x framework value."""
    floor = round_half_up(framework_value * bounds.floor_ratio)
    ceiling = round_half_up(framework_value * bounds.ceiling_ratio)
    return min(max(list_price, floor), ceiling)


def duration_factor(curve: DurationCurve, days: int) -> Decimal:
    if isinstance(curve, PowerCurve):
        return _power_factor(days, curve.reference_days, curve.alpha)
    return round_factor(curve.factors[days])


@functools.lru_cache(maxsize=1024)
def _power_factor(days: int, reference_days: int, alpha: Decimal) -> Decimal:
    """(days / reference_days) ** alpha; cached because a 40-digit power is slow."""
    with localcontext(MONEY_CONTEXT):
        return round_factor((Decimal(days) / reference_days) ** alpha)
