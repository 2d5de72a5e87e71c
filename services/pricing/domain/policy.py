"""The valuation and fee policy: a frozen, validated model of the published framework.

Field-level rules (ranges, types) are pydantic constraints; rules that relate several
fields are checked in `_consistency_issues`, which names the exact field of each problem.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.pricing.domain.errors import PolicyError, PolicyIssue
from services.pricing.domain.primitives import (
    Factor,
    Money,
    NonNegativeDecimal,
    Product,
    Rate,
    Segment,
    UpdateFrequency,
    UtcDatetime,
)

Location = tuple[str | int, ...]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RowTier(_Frozen):
    """Marginal value per row for the rows up to `up_to` (None: all remaining rows)."""

    up_to: Annotated[int, Field(gt=0)] | None = None
    per_row: NonNegativeDecimal


class ClassificationTerms(_Frozen):
    """Sensitive and quasi-identifying columns raise the value and cost to protect."""

    sensitive_uplift_per_column: Rate
    quasi_identifier_uplift_per_column: Rate
    max_uplift: NonNegativeDecimal
    protection_cost_per_sensitive_column: Money
    protection_cost_per_quasi_identifier_column: Money
    protection_cost_per_direct_identifier_column: Money


class QualityTerms(_Frozen):
    """Multiplier interpolated linearly between quality score 0 and quality score 1."""

    at_zero: Factor
    at_one: Factor


class FreshnessTerms(_Frozen):
    """Multiplier by update frequency, reduced when the data is overdue for an update."""

    by_update_frequency: dict[UpdateFrequency, Factor]
    stale_after_periods: Annotated[int, Field(ge=1)]
    stale_factor: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)]


class ThemeTerms(_Frozen):
    """Multiplier by catalog theme; themes not listed use `default`."""

    default: Factor
    by_theme: dict[str, Factor] = Field(default_factory=dict)


class CoverageTerms(_Frozen):
    """National data uses `national`; provincial data `provincial_base + n * per_province`."""

    national: Factor
    provincial_base: Factor
    per_province: NonNegativeDecimal


class ListPriceBounds(_Frozen):
    """A provider's list price is kept within these ratios of the framework value."""

    floor_ratio: Factor
    ceiling_ratio: Factor


class ValuationTerms(_Frozen):
    """How the value of one dataset version is derived from its catalog facts."""

    row_tiers: Annotated[tuple[RowTier, ...], Field(min_length=1)]
    per_column: NonNegativeDecimal
    classification: ClassificationTerms
    quality: QualityTerms
    freshness: FreshnessTerms
    theme: ThemeTerms
    coverage: CoverageTerms
    list_price: ListPriceBounds


class ProductTerms(_Frozen):
    """Price factor of an access product and the durations (days) it is sold for."""

    factor: Factor
    durations: Annotated[tuple[Annotated[int, Field(gt=0)], ...], Field(min_length=1)]


class PowerCurve(_Frozen):
    """Duration factor (days / reference_days) ** alpha; concave for 0 < alpha <= 1."""

    kind: Literal["power"]
    reference_days: Annotated[int, Field(gt=0)]
    alpha: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)]


class TableCurve(_Frozen):
    """Duration factor read from a table of days -> factor (non-decreasing, concave)."""

    kind: Literal["table"]
    factors: Annotated[dict[Annotated[int, Field(gt=0)], Factor], Field(min_length=1)]


DurationCurve = Annotated[PowerCurve | TableCurve, Field(discriminator="kind")]


class RevenueShares(_Frozen):
    """How the net (pre-VAT) amount is split; the three shares add up to 100%."""

    platform: Rate
    agency: Rate
    state_budget: Rate


class FeeTerms(_Frozen):
    """Revenue split, VAT, charge bounds and rounding of the net amount."""

    shares: RevenueShares
    vat_rate: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)]
    minimum_charge: Money
    maximum_charge: Money
    rounding_step: Annotated[int, Field(ge=1)]


class SegmentTerms(_Frozen):
    """Incentive for a verified buyer segment."""

    discount_rate: Rate = Decimal(0)
    waiver: bool = False
    requires_justification: bool = False


class LoyaltyTier(_Frozen):
    """Discount for buyers with at least `min_prior_paid_orders` paid orders."""

    min_prior_paid_orders: Annotated[int, Field(ge=1)]
    rate: Rate


PROMOTION_SCOPE_PATTERN = (
    r"^(all|theme:\S.*|org:\S.*|listing:\S.*|product:(download|sandbox)"
    r"|segment:(standard|startup|sme|research_education|public_interest|foreign))$"
)


class Promotion(_Frozen):
    """A time-limited discount for quotes in a scope, active on [starts_at, ends_at)."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
    label_vi: Annotated[str, Field(min_length=1)]
    label_en: Annotated[str, Field(min_length=1)]
    rate: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)]
    scope: Annotated[str, Field(pattern=PROMOTION_SCOPE_PATTERN)]
    starts_at: UtcDatetime
    ends_at: UtcDatetime


class IncentiveTerms(_Frozen):
    """Segment discounts and waivers, loyalty tiers, promotions and the stacking cap."""

    discount_cap: Rate
    segments: dict[Segment, SegmentTerms]
    loyalty: tuple[LoyaltyTier, ...] = ()
    promotions: tuple[Promotion, ...] = ()


class Policy(_Frozen):
    """A complete, versioned pricing policy; every quote is reproducible from it."""

    version: Annotated[str, Field(min_length=1, max_length=64)]
    effective_from: UtcDatetime
    description: str = ""
    valuation: ValuationTerms
    products: Annotated[dict[Product, ProductTerms], Field(min_length=1)]
    duration_curve: DurationCurve
    fees: FeeTerms
    incentives: IncentiveTerms
    quote_validity_minutes: Annotated[int, Field(gt=0, le=24 * 60)]

    @model_validator(mode="after")
    def _check_consistency(self) -> Policy:
        located = _consistency_issues(self)
        if located:
            raise PolicyInconsistent(located)
        return self


class PolicyInconsistent(PolicyError):
    """Fields that are valid alone but contradict each other; keeps exact locations."""

    def __init__(self, located: list[tuple[Location, str]]) -> None:
        self.located = located
        super().__init__([PolicyIssue(format_location(loc), None, msg) for loc, msg in located])


def format_location(loc: Location) -> str:
    """('fees', 'shares') -> 'fees.shares'; list indexes and numeric keys as [i]."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _consistency_issues(policy: Policy) -> list[tuple[Location, str]]:
    return [
        *_row_tier_issues(policy.valuation.row_tiers),
        *_valuation_issues(policy.valuation),
        *_duration_issues(policy),
        *_fee_issues(policy.fees),
        *_incentive_issues(policy.incentives),
    ]


def _row_tier_issues(tiers: tuple[RowTier, ...]) -> list[tuple[Location, str]]:
    issues: list[tuple[Location, str]] = []
    base: Location = ("valuation", "row_tiers")
    previous_up_to = 0
    for index, tier in enumerate(tiers):
        last = index == len(tiers) - 1
        if tier.up_to is None and not last:
            issues.append(((*base, index, "up_to"), "only the last tier may be unbounded"))
        if last and tier.up_to is not None:
            issues.append(((*base, index, "up_to"), "the last tier must be unbounded (omit up_to)"))
        if tier.up_to is not None:
            if tier.up_to <= previous_up_to:
                issues.append(
                    (
                        (*base, index, "up_to"),
                        f"tiers must increase: {tier.up_to} follows {previous_up_to}",
                    )
                )
            previous_up_to = max(previous_up_to, tier.up_to)
        if index and tier.per_row > tiers[index - 1].per_row:
            issues.append(
                (
                    (*base, index, "per_row"),
                    f"value per row must not increase with volume: {tier.per_row} "
                    f"follows {tiers[index - 1].per_row}",
                )
            )
    return issues


def _valuation_issues(valuation: ValuationTerms) -> list[tuple[Location, str]]:
    issues: list[tuple[Location, str]] = []
    if valuation.quality.at_one < valuation.quality.at_zero:
        issues.append(
            (
                ("valuation", "quality", "at_one"),
                f"better quality must not lower the price: at_one {valuation.quality.at_one} "
                f"is below at_zero {valuation.quality.at_zero}",
            )
        )
    missing = [f.value for f in UpdateFrequency if f not in valuation.freshness.by_update_frequency]
    if missing:
        issues.append(
            (
                ("valuation", "freshness", "by_update_frequency"),
                f"missing update frequencies: {', '.join(missing)}",
            )
        )
    coverage = valuation.coverage
    if coverage.provincial_base > coverage.national:
        issues.append(
            (
                ("valuation", "coverage", "provincial_base"),
                f"provincial_base {coverage.provincial_base} is above national {coverage.national}",
            )
        )
    bounds = valuation.list_price
    if bounds.floor_ratio > bounds.ceiling_ratio:
        issues.append(
            (
                ("valuation", "list_price", "floor_ratio"),
                f"floor_ratio {bounds.floor_ratio} is above ceiling_ratio {bounds.ceiling_ratio}",
            )
        )
    return issues


def _duration_issues(policy: Policy) -> list[tuple[Location, str]]:
    issues: list[tuple[Location, str]] = []
    curve = policy.duration_curve
    table = curve.factors if isinstance(curve, TableCurve) else None
    for product, terms in policy.products.items():
        for index, days in enumerate(terms.durations):
            loc: Location = ("products", product.value, "durations", index)
            if index and days <= terms.durations[index - 1]:
                issues.append(
                    (loc, f"durations must increase: {days} follows {terms.durations[index - 1]}")
                )
            if table is not None and days not in table:
                issues.append((loc, f"no factor for {days} days in duration_curve.factors"))
    if table is not None:
        issues.extend(_table_curve_issues(table))
    return issues


def _table_curve_issues(table: dict[int, Decimal]) -> list[tuple[Location, str]]:
    """Days must increase; factors must not decrease; the price per day must not rise.

    Concavity is checked through the origin: each segment's slope (factor per day) must
    not exceed the previous one, so that longer access is never dearer per day.
    """
    issues: list[tuple[Location, str]] = []
    previous_days, previous_factor = 0, Decimal(0)
    previous_slope: tuple[Decimal, int] | None = None
    for days, factor in table.items():
        loc: Location = ("duration_curve", "factors", days)
        if days <= previous_days:
            issues.append((loc, f"durations must increase: {days} follows {previous_days}"))
            continue
        rise, run = factor - previous_factor, days - previous_days
        if rise < 0:
            issues.append(
                (loc, f"factor {factor} for {days} days is below {previous_factor} before it")
            )
        elif previous_slope is not None and rise * previous_slope[1] > previous_slope[0] * run:
            issues.append(
                (
                    loc,
                    f"curve must be concave: the factor per extra day rises at {days} days",
                )
            )
        # After a fall, the next slope is not compared with it: one problem, one report.
        previous_slope = (rise, run) if rise >= 0 else None
        previous_days, previous_factor = days, factor
    return issues


def _fee_issues(fees: FeeTerms) -> list[tuple[Location, str]]:
    issues: list[tuple[Location, str]] = []
    shares = fees.shares
    total = shares.platform + shares.agency + shares.state_budget
    if total != 1:
        issues.append(
            (
                ("fees", "shares"),
                f"platform + agency + state_budget must add up to 1 (100%), not {total}",
            )
        )
    if fees.minimum_charge > fees.maximum_charge:
        issues.append(
            (
                ("fees", "minimum_charge"),
                f"minimum_charge {fees.minimum_charge} is above maximum_charge "
                f"{fees.maximum_charge}",
            )
        )
    for name in ("minimum_charge", "maximum_charge"):
        amount: int = getattr(fees, name)
        if amount % fees.rounding_step:
            issues.append(
                (
                    ("fees", name),
                    f"{amount} is not a multiple of rounding_step {fees.rounding_step}",
                )
            )
    return issues


def _incentive_issues(incentives: IncentiveTerms) -> list[tuple[Location, str]]:
    issues: list[tuple[Location, str]] = []
    missing = [s.value for s in Segment if s not in incentives.segments]
    if missing:
        issues.append((("incentives", "segments"), f"missing segments: {', '.join(missing)}"))
    standard = incentives.segments.get(Segment.STANDARD)
    if standard is not None and standard.waiver:
        issues.append(
            (("incentives", "segments", "standard", "waiver"), "the standard segment pays")
        )
    for index, tier in enumerate(incentives.loyalty[1:], start=1):
        previous = incentives.loyalty[index - 1]
        loc: Location = ("incentives", "loyalty", index)
        if tier.min_prior_paid_orders <= previous.min_prior_paid_orders:
            issues.append(
                (
                    (*loc, "min_prior_paid_orders"),
                    f"tiers must increase: {tier.min_prior_paid_orders} follows "
                    f"{previous.min_prior_paid_orders}",
                )
            )
        if tier.rate < previous.rate:
            issues.append(
                ((*loc, "rate"), f"a higher tier must not give less: {tier.rate} < {previous.rate}")
            )
    issues.extend(_promotion_issues(incentives.promotions))
    return issues


def _promotion_issues(promotions: tuple[Promotion, ...]) -> list[tuple[Location, str]]:
    issues: list[tuple[Location, str]] = []
    seen_ids: set[str] = set()
    for index, promotion in enumerate(promotions):
        loc: Location = ("incentives", "promotions", index)
        if promotion.id in seen_ids:
            issues.append(((*loc, "id"), f"duplicate promotion id {promotion.id!r}"))
        seen_ids.add(promotion.id)
        if promotion.ends_at <= promotion.starts_at:
            issues.append(((*loc, "ends_at"), "ends_at must be after starts_at"))
            continue
        for other in promotions[:index]:
            if (
                other.scope == promotion.scope
                and other.starts_at < promotion.ends_at
                and promotion.starts_at < other.ends_at
            ):
                issues.append(
                    (
                        (*loc, "starts_at"),
                        f"overlaps promotion {other.id!r} in scope {promotion.scope!r}",
                    )
                )
    return issues
