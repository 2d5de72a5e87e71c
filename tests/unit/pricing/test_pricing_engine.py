"""The quote engine on concrete cases a buyer, provider or auditor would check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

import pytest

from services.pricing.domain import (
    ADDITIVE_KINDS,
    DurationNotOffered,
    JustificationRequired,
    LineKind,
    PolicyNotInEffect,
    PricedQuote,
    Product,
    ProductNotOffered,
    Segment,
    make_quote,
    price,
)

from .pricing_builders import DEFAULT_POLICY, NOW, buyer, facts, policy_with


def amounts(quote: PricedQuote) -> dict[str, int]:
    return {line.code: line.amount for line in quote.lines}


def standard_quote(**fact_changes: object) -> PricedQuote:
    return price(DEFAULT_POLICY, facts(**fact_changes), "download", 30, buyer(), NOW)


def test_lines_add_up_to_the_total_and_the_split_restates_it() -> None:
    quote = standard_quote()

    additive = sum(line.amount for line in quote.lines if line.kind in ADDITIVE_KINDS)
    shares = sum(line.amount for line in quote.lines if line.kind is LineKind.SHARE)
    assert additive == quote.total == amounts(quote)["total"]
    assert shares == quote.net == quote.total - quote.vat
    assert quote.split.model_dump() == {
        "platform_fee": amounts(quote)["share.platform"],
        "agency_share": amounts(quote)["share.agency"],
        "budget_share": amounts(quote)["share.state_budget"],
        "vat": amounts(quote)["vat"],
    }


def test_default_policy_splits_the_net_10_40_50_and_adds_10_percent_vat() -> None:
    quote = standard_quote()

    assert quote.net % 1000 == 0
    assert quote.vat == quote.net // 10
    assert quote.split.platform_fee == quote.net // 10
    assert quote.split.agency_share == quote.net * 4 // 10
    assert quote.split.budget_share == quote.net - quote.net // 10 - quote.net * 4 // 10


def test_value_by_rows_is_marginal_by_tier() -> None:
    # 10,000 x 100 + 90,000 x 40 + 20,000 x 10 under the default tiers.
    assert amounts(standard_quote(row_count=120_000))["rows"] == 4_800_000
    assert amounts(standard_quote(row_count=10_000))["rows"] == 1_000_000
    assert amounts(standard_quote(row_count=10_001))["rows"] == 1_000_040


def test_direct_identifiers_carry_no_column_value_but_cost_protection() -> None:
    quote = standard_quote()

    assert amounts(quote)["columns"] == 13 * 150_000
    # 2 sensitive x 300,000 + 4 quasi-identifiers x 200,000 + 1 direct identifier x 100,000
    assert amounts(quote)["protection"] == 1_500_000


def test_each_multiplier_line_scales_the_amount_before_it() -> None:
    quote = standard_quote()
    running = 0
    for line in quote.lines:
        if line.kind is LineKind.MULTIPLIER and line.code not in {"rounding"}:
            factor = Decimal(line.label_en.rsplit("×", 1)[1])
            expected = int((running * factor).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
            assert running + line.amount == expected, line.code
        if line.kind in ADDITIVE_KINDS:
            running += line.amount


def test_an_unverified_startup_pays_the_standard_price() -> None:
    claimed = price(
        DEFAULT_POLICY, facts(), "download", 30, buyer(segment="startup", verified=False), NOW
    )
    verified = price(
        DEFAULT_POLICY, facts(), "download", 30, buyer(segment="startup", verified=True), NOW
    )

    assert claimed.segment is Segment.STANDARD
    assert claimed.declared_segment is Segment.STARTUP
    assert "discount.segment" not in amounts(claimed)
    assert claimed.total == standard_quote().total
    assert verified.segment is Segment.STARTUP
    assert amounts(verified)["discount.segment"] == -(verified.subtotal // 2)
    assert verified.total < claimed.total


def test_a_verified_public_interest_buyer_is_waived_and_must_justify() -> None:
    quote = price(
        DEFAULT_POLICY,
        facts(),
        "download",
        90,
        buyer(segment="public_interest", verified=True),
        NOW,
    )

    assert quote.waived
    assert quote.total == quote.vat == quote.net == 0
    assert amounts(quote)["waiver"] == -quote.subtotal
    assert quote.split.total == 0
    with pytest.raises(JustificationRequired):
        make_quote(quote, purpose="flood mapping")
    accepted = make_quote(quote, purpose="flood mapping", justification="Provincial flood plan")
    assert accepted.total == 0


def floor_of(amount: int, rate: str) -> int:
    return int((amount * Decimal(rate)).to_integral_value(rounding=ROUND_FLOOR))


def test_stacked_discounts_are_limited_by_the_cap() -> None:
    # Research 70% + loyalty 5% + October promotion 10% = 85%, capped at 80%.
    october = datetime(2025, 10, 10, tzinfo=UTC)
    quote = price(
        DEFAULT_POLICY,
        facts(),
        "download",
        30,
        buyer(segment="research_education", prior_paid_orders=6),
        october,
    )

    lines = amounts(quote)
    subtotal = quote.subtotal
    incentive = sum(v for code, v in lines.items() if code.startswith("discount."))
    assert incentive == -floor_of(subtotal, "0.8")
    assert lines["discount.segment"] == -floor_of(subtotal, "0.7")
    assert lines["discount.loyalty"] == -(floor_of(subtotal, "0.75") - floor_of(subtotal, "0.7"))
    promotion = next(line for line in quote.lines if line.code.startswith("discount.promotion"))
    assert promotion.amount == -(floor_of(subtotal, "0.8") - floor_of(subtotal, "0.75"))
    assert "limited by the discount cap" in promotion.label_en


def test_a_discount_the_cap_swallows_still_shows_at_zero() -> None:
    october = datetime(2025, 10, 10, tzinfo=UTC)
    quote = price(
        DEFAULT_POLICY,
        facts(),
        "download",
        30,
        buyer(segment="research_education", prior_paid_orders=25),
        october,
    )

    promotion = next(line for line in quote.lines if line.code.startswith("discount.promotion"))
    assert promotion.amount == 0
    assert "limited by the discount cap" in promotion.label_en


def test_promotions_apply_only_within_their_window() -> None:
    start = datetime(2025, 9, 30, 17, 0, tzinfo=UTC)  # 1 October 2025, 00:00 in Hà Nội
    end = datetime(2025, 10, 31, 17, 0, tzinfo=UTC)
    promotion = "discount.promotion.thang-chuyen-doi-so-2025"

    applied = [
        promotion in amounts(price(DEFAULT_POLICY, facts(), "download", 30, buyer(), when))
        for when in (start - timedelta(seconds=1), start, end - timedelta(seconds=1), end)
    ]

    assert applied == [False, True, True, False]


def test_a_theme_promotion_applies_only_to_its_theme() -> None:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    environment = price(DEFAULT_POLICY, facts(theme="environment"), "download", 30, buyer(), when)
    health = price(DEFAULT_POLICY, facts(theme="health"), "download", 30, buyer(), when)

    assert "discount.promotion.moi-truong-2026" in amounts(environment)
    assert "discount.promotion.moi-truong-2026" not in amounts(health)


def test_a_tiny_dataset_pays_the_minimum_charge() -> None:
    quote = standard_quote(
        row_count=10,
        column_count=1,
        classification={"attribute": 1},
        theme="statistics",
    )

    assert quote.net == 50_000
    assert amounts(quote)["minimum_charge"] > 0
    assert quote.total == 55_000


def test_the_maximum_charge_caps_the_price_before_incentives() -> None:
    policy = policy_with({"fees.maximum_charge": 2_000_000})

    quote = price(policy, facts(), "download", 365, buyer(segment="startup"), NOW)

    assert quote.subtotal == 2_000_000
    assert amounts(quote)["maximum_charge"] < 0
    assert quote.net == 1_000_000


def test_the_vat_rate_is_configurable() -> None:
    policy = policy_with({"fees.vat_rate": "0.08"})

    quote = price(policy, facts(), "download", 30, buyer(), NOW)

    assert quote.vat == quote.net * 8 // 100
    assert "(8%)" in next(line.label_en for line in quote.lines if line.code == "vat")


def test_the_net_is_rounded_to_the_configured_step() -> None:
    exact = price(policy_with({"fees.rounding_step": 1}), facts(), "download", 30, buyer(), NOW)
    stepped = price(
        policy_with({"fees.rounding_step": 10_000, "fees.minimum_charge": 50_000}),
        facts(),
        "download",
        30,
        buyer(),
        NOW,
    )

    assert "rounding" not in amounts(exact)
    assert stepped.net % 10_000 == 0
    assert abs(stepped.net - exact.net) <= 5_000


def test_a_provider_list_price_is_kept_between_floor_and_ceiling() -> None:
    framework = amounts(standard_quote())
    value = sum(framework[code] for code in ("rows", "columns")) + sum(
        framework[code] for code in ("classification", "quality", "freshness", "theme", "coverage")
    )

    def list_priced(list_price: int) -> int:
        quote = standard_quote(list_price=list_price)
        step = next(step for step in quote.trace if step.rule == "valuation.list_price")
        assert step.inputs["framework_value"] == str(value)
        assert value + amounts(quote)["list_price"] == int(step.output)
        return int(step.output)

    assert list_priced(value + 1234) == value + 1234
    assert list_priced(1) == round(value * 0.5)
    assert list_priced(10**12) == value * 2


def test_stale_data_is_cheaper_than_fresh_data() -> None:
    fresh = standard_quote(last_updated=NOW - timedelta(days=20))
    stale = standard_quote(last_updated=NOW - timedelta(days=200))

    assert stale.total < fresh.total
    assert "overdue" in next(line.label_en for line in stale.lines if line.code == "freshness")


def test_national_data_is_worth_more_than_one_province() -> None:
    national = standard_quote(provinces=())
    provincial = standard_quote(provinces=("ha-noi",))

    assert national.total > provincial.total


def test_sandbox_access_is_cheaper_than_download() -> None:
    download = price(DEFAULT_POLICY, facts(), "download", 30, buyer(), NOW)
    sandbox = price(DEFAULT_POLICY, facts(), Product.SANDBOX, 30, buyer(), NOW)

    assert sandbox.total < download.total


def test_longer_access_costs_less_per_day() -> None:
    totals = {
        d: price(DEFAULT_POLICY, facts(), "download", d, buyer(), NOW).total
        for d in (7, 30, 90, 365)
    }

    per_day = [totals[d] / d for d in (7, 30, 90, 365)]
    assert list(totals.values()) == sorted(totals.values())
    assert per_day == sorted(per_day, reverse=True)


def test_the_quote_expires_after_the_policy_validity() -> None:
    quote = standard_quote()

    assert quote.priced_at == NOW
    assert quote.expires_at == NOW + timedelta(minutes=30)


def test_the_trace_names_the_policy_rule_behind_each_step() -> None:
    rules = [step.rule for step in standard_quote().trace]

    assert rules[:2] == ["valuation.row_tiers", "valuation.per_column"]
    assert "duration_curve.power" in rules
    assert rules[-2:] == ["fees.vat_rate", "fees.shares"]


def test_a_duration_the_policy_does_not_sell_is_refused() -> None:
    with pytest.raises(DurationNotOffered) as caught:
        price(DEFAULT_POLICY, facts(), "download", 45, buyer(), NOW)

    assert caught.value.allowed == [7, 30, 90, 365]


@pytest.mark.parametrize(
    ("policy_changes", "fact_changes", "product"),
    [
        ({}, {}, "rental"),
        ({}, {"offered_products": ("download",)}, "sandbox"),
    ],
    ids=["unknown product", "product the provider did not open"],
)
def test_a_product_not_offered_is_refused(
    policy_changes: dict[str, object], fact_changes: dict[str, object], product: str
) -> None:
    with pytest.raises(ProductNotOffered):
        price(policy_with(policy_changes), facts(**fact_changes), product, 30, buyer(), NOW)


def test_a_product_missing_from_the_policy_is_refused() -> None:
    data = DEFAULT_POLICY.model_dump(mode="json")
    del data["products"]["sandbox"]
    policy = type(DEFAULT_POLICY).model_validate(data)

    with pytest.raises(ProductNotOffered) as caught:
        price(policy, facts(), "sandbox", 30, buyer(), NOW)
    assert caught.value.offered == ["download"]


def test_a_policy_is_not_applied_before_it_takes_effect() -> None:
    with pytest.raises(PolicyNotInEffect):
        price(DEFAULT_POLICY, facts(), "download", 30, buyer(), datetime(2025, 6, 1, tzinfo=UTC))
