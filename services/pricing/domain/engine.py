"""The quote engine: price one access to one dataset version under a policy.

Steps, each one itemised as a line and recorded in the trace:
value (rows, columns, multipliers, list price) -> access (product, duration) ->
protection cost -> maximum charge -> incentives (or waiver) -> minimum charge ->
rounding -> VAT -> total, and the split of the net between platform, agency and budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from services.pricing.domain import incentives, labels, valuation
from services.pricing.domain.errors import DurationNotOffered, PolicyNotInEffect, ProductNotOffered
from services.pricing.domain.facts import BuyerProfile, DatasetFacts
from services.pricing.domain.labels import Label
from services.pricing.domain.money import (
    MONEY_CONTEXT,
    format_factor,
    round_down,
    round_half_up,
    round_to_step,
)
from services.pricing.domain.policy import Policy
from services.pricing.domain.primitives import LineKind, Product
from services.pricing.domain.quote import PricedQuote


@dataclass
class _Book:
    """Lines and trace being written, as plain data validated once into the PricedQuote;
    `running` is the sum of the additive lines so far, `discounts` of the discount lines."""

    lines: list[dict[str, object]] = field(default_factory=list)
    trace: list[dict[str, object]] = field(default_factory=list)
    running: int = 0
    discounts: int = 0

    def line(self, code: str, label: Label, amount: int, kind: LineKind) -> None:
        self.lines.append(
            {
                "code": code,
                "label_vi": label[0],
                "label_en": label[1],
                "amount": amount,
                "kind": kind,
            }
        )
        if kind is not LineKind.SHARE and kind is not LineKind.TOTAL:
            self.running += amount
        if kind is LineKind.DISCOUNT:
            self.discounts += amount

    def note(self, rule: str, inputs: dict[str, str], output: int | Decimal | str) -> None:
        shown = format_factor(output) if isinstance(output, Decimal) else str(output)
        self.trace.append({"rule": rule, "inputs": inputs, "output": shown})

    def multiply(self, code: str, label: Label, factor: Decimal, rule: str, **facts: str) -> None:
        """Scale the running amount: the line is round_half_up(running x factor) - running."""
        before = self.running
        amount = round_half_up(before * factor) - before
        self.line(code, label, amount, LineKind.MULTIPLIER)
        inputs = {**facts, "amount": str(before), "factor": format_factor(factor)}
        self.note(rule, inputs, before + amount)


def price(
    policy: Policy,
    facts: DatasetFacts,
    product: Product | str,
    duration_days: int,
    buyer: BuyerProfile,
    now: datetime,
) -> PricedQuote:
    """Price `duration_days` of `product` access to a dataset version for `buyer` at `now`.

    Raises ProductNotOffered, DurationNotOffered or PolicyNotInEffect.
    """
    return PricedQuote.model_validate(price_data(policy, facts, product, duration_days, buyer, now))


def price_data(
    policy: Policy,
    facts: DatasetFacts,
    product: Product | str,
    duration_days: int,
    buyer: BuyerProfile,
    now: datetime,
) -> dict[str, Any]:
    """What `price` returns, as the plain data a PricedQuote validates (the service's fast
    path: the engine's own output needs no second validation; `issuing` checks its sums).
    """
    product = check_request(policy, facts, product, duration_days, now)
    with localcontext(MONEY_CONTEXT):
        return _price(policy, facts, product, duration_days, buyer, now)


def check_request(
    policy: Policy, facts: DatasetFacts, product: Product | str, duration_days: int, now: datetime
) -> Product:
    """The product asked for, if the policy is in effect and offers it for that duration."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if now < policy.effective_from:
        raise PolicyNotInEffect(
            f"policy {policy.version} takes effect at {policy.effective_from.isoformat()}"
        )
    offered = [p.value for p in policy.products if p in facts.offered_products]
    if product not in offered:
        raise ProductNotOffered(str(product), offered)
    product = Product(product)
    terms = policy.products[product]
    if duration_days not in terms.durations:
        raise DurationNotOffered(product.value, duration_days, terms.durations)
    return product


def _price(
    policy: Policy,
    facts: DatasetFacts,
    product: Product,
    duration_days: int,
    buyer: BuyerProfile,
    now: datetime,
) -> dict[str, Any]:
    book = _Book()
    _value_dataset(book, policy, facts, now)
    _scale_to_access(book, policy, product, duration_days)
    _add_protection_cost(book, policy, facts)
    _apply_maximum_charge(book, policy)
    subtotal = book.running

    segment = buyer.applied_segment
    segment_terms = policy.incentives.segments[segment]
    book.note(
        "incentives.segments",
        {"declared": buyer.segment.value, "verified": str(buyer.verified).lower()},
        segment.value,
    )
    if segment is not buyer.segment:
        # Say why a claimed segment's discount or waiver did not apply.
        book.note(
            "incentives.segments.verification",
            {"declared": buyer.segment.value, "verified": "false"},
            f"no {buyer.segment.value} discount or waiver: the organisation is not verified "
            f"in segment {buyer.segment.value} (an operator verifies it in the catalog)",
        )
    if segment_terms.waiver:
        book.line("waiver", labels.WAIVER, -subtotal, LineKind.DISCOUNT)
        book.note(f"incentives.segments.{segment.value}.waiver", {"subtotal": str(subtotal)}, 0)
    else:
        _apply_discounts(book, policy, facts, product, buyer, now)
        _apply_minimum_charge(book, policy)
        _round_net(book, policy)
    net = book.running
    discount_total = book.discounts

    vat = round_half_up(net * policy.fees.vat_rate)
    book.line("vat", labels.vat(policy.fees.vat_rate), vat, LineKind.TAX)
    book.note("fees.vat_rate", {"net": str(net), "rate": format_factor(policy.fees.vat_rate)}, vat)
    total = book.running
    book.line("total", labels.TOTAL, total, LineKind.TOTAL)
    split = _split(book, policy, net, vat)

    return {
        "listing_id": facts.listing_id,
        "listing_version": facts.version,
        "product": product,
        "duration_days": duration_days,
        "buyer_org": buyer.org,
        "declared_segment": buyer.segment,
        "segment": segment,
        "policy_version": policy.version,
        "lines": book.lines,
        "trace": book.trace,
        "subtotal": subtotal,
        "discount_total": discount_total,
        "net": net,
        "vat": vat,
        "total": total,
        "split": split,
        "waived": segment_terms.waiver,
        "requires_justification": segment_terms.requires_justification,
        "priced_at": now,
        "expires_at": now + timedelta(minutes=policy.quote_validity_minutes),
    }


def _value_dataset(book: _Book, policy: Policy, facts: DatasetFacts, now: datetime) -> None:
    terms = policy.valuation
    rows = round_half_up(valuation.row_value(terms.row_tiers, facts.row_count))
    book.line("rows", labels.rows(facts.row_count), rows, LineKind.BASE)
    book.note("valuation.row_tiers", {"row_count": str(facts.row_count)}, rows)

    columns = valuation.valued_columns(facts)
    column_value = round_half_up(columns * terms.per_column)
    book.line("columns", labels.columns(columns), column_value, LineKind.BASE)
    book.note(
        "valuation.per_column",
        {"valued_columns": str(columns), "per_column": format_factor(terms.per_column)},
        column_value,
    )

    counts = facts.classification
    factor = valuation.classification_factor(terms.classification, counts)
    book.multiply(
        "classification",
        labels.factor(
            f"Hệ số phân loại ({counts.sensitive} cột nhạy cảm, "
            f"{counts.quasi_identifier} cột bán định danh)",
            f"Classification mix ({counts.sensitive} sensitive, "
            f"{counts.quasi_identifier} quasi-identifier columns)",
            factor,
        ),
        factor,
        "valuation.classification",
        sensitive=str(counts.sensitive),
        quasi_identifier=str(counts.quasi_identifier),
    )
    factor = valuation.quality_factor(terms.quality, facts.quality_score)
    book.multiply(
        "quality",
        labels.factor(
            f"Hệ số chất lượng (điểm {format_factor(facts.quality_score)})",
            f"Quality (score {format_factor(facts.quality_score)})",
            factor,
        ),
        factor,
        "valuation.quality",
        quality_score=format_factor(facts.quality_score),
    )
    stale = valuation.is_stale(terms.freshness, facts.update_frequency, facts.last_updated, now)
    factor = valuation.freshness_factor(terms.freshness, facts.update_frequency, stale)
    book.multiply(
        "freshness",
        labels.freshness(facts.update_frequency, stale, factor),
        factor,
        "valuation.freshness",
        update_frequency=facts.update_frequency.value,
        stale=str(stale).lower(),
    )
    factor = valuation.theme_factor(terms.theme, facts.theme)
    book.multiply(
        "theme",
        labels.factor(f"Hệ số lĩnh vực ({facts.theme})", f"Theme ({facts.theme})", factor),
        factor,
        "valuation.theme",
        theme=facts.theme,
    )
    factor = valuation.coverage_factor(terms.coverage, len(facts.provinces))
    book.multiply(
        "coverage",
        labels.coverage(len(facts.provinces), factor),
        factor,
        "valuation.coverage",
        provinces=str(len(facts.provinces)),
    )
    if facts.list_price is not None:
        framework_value = book.running
        target = valuation.list_price_target(terms.list_price, framework_value, facts.list_price)
        book.line("list_price", labels.LIST_PRICE, target - framework_value, LineKind.MULTIPLIER)
        book.note(
            "valuation.list_price",
            {"framework_value": str(framework_value), "list_price": str(facts.list_price)},
            target,
        )


def _scale_to_access(book: _Book, policy: Policy, product: Product, duration_days: int) -> None:
    factor = policy.products[product].factor
    book.multiply(
        "product", labels.product(product, factor), factor, f"products.{product.value}.factor"
    )
    factor = valuation.duration_factor(policy.duration_curve, duration_days)
    book.multiply(
        "duration",
        labels.duration(duration_days, factor),
        factor,
        f"duration_curve.{policy.duration_curve.kind}",
        duration_days=str(duration_days),
    )


def _add_protection_cost(book: _Book, policy: Policy, facts: DatasetFacts) -> None:
    counts = facts.classification
    cost = valuation.protection_cost(policy.valuation.classification, counts)
    if cost:
        protected = counts.sensitive + counts.quasi_identifier + counts.direct_identifier
        book.line("protection", labels.protection(protected), cost, LineKind.FEE)
        book.note(
            "valuation.classification.protection_cost",
            {
                "sensitive": str(counts.sensitive),
                "quasi_identifier": str(counts.quasi_identifier),
                "direct_identifier": str(counts.direct_identifier),
            },
            cost,
        )


def _apply_maximum_charge(book: _Book, policy: Policy) -> None:
    ceiling = policy.fees.maximum_charge
    if book.running > ceiling:
        before = book.running
        book.line("maximum_charge", labels.MAXIMUM_CHARGE, ceiling - before, LineKind.MULTIPLIER)
        book.note("fees.maximum_charge", {"amount": str(before)}, ceiling)


def _apply_discounts(
    book: _Book,
    policy: Policy,
    facts: DatasetFacts,
    product: Product,
    buyer: BuyerProfile,
    now: datetime,
) -> None:
    """Each line is the growth of floor(subtotal x cumulative rate), so lines add up to
    floor(subtotal x granted rate) and never exceed the cap."""
    terms = policy.incentives
    subtotal = book.running
    found = incentives.qualifying_discounts(
        terms, facts, product, buyer.applied_segment, buyer.prior_paid_orders, now
    )
    cumulative = Decimal(0)
    for granted in incentives.apply_cap(found, terms.discount_cap):
        before = round_down(subtotal * cumulative)
        cumulative += granted.rate
        amount = round_down(subtotal * cumulative) - before
        inputs = {"subtotal": str(subtotal), "rate": format_factor(granted.discount.rate)}
        label = granted.discount.label
        if granted.capped:
            inputs["discount_cap"] = format_factor(terms.discount_cap)
            inputs["granted_rate"] = format_factor(granted.rate)
            label = (f"{label[0]}, {labels.CAPPED_NOTE[0]}", f"{label[1]}, {labels.CAPPED_NOTE[1]}")
        # A discount the cap swallowed whole still shows, at 0 đồng, so the buyer sees why.
        book.line(granted.discount.code, label, -amount, LineKind.DISCOUNT)
        book.note(granted.discount.rule, inputs, -amount)


def _apply_minimum_charge(book: _Book, policy: Policy) -> None:
    minimum = policy.fees.minimum_charge
    if book.running < minimum:
        before = book.running
        book.line("minimum_charge", labels.MINIMUM_CHARGE, minimum - before, LineKind.FEE)
        book.note("fees.minimum_charge", {"amount": str(before)}, minimum)


def _round_net(book: _Book, policy: Policy) -> None:
    step = policy.fees.rounding_step
    before = book.running
    rounded = round_to_step(before, step)
    if rounded != before:
        book.line("rounding", labels.rounding(step), rounded - before, LineKind.MULTIPLIER)
        book.note("fees.rounding_step", {"amount": str(before), "step": str(step)}, rounded)


def _split(book: _Book, policy: Policy, net: int, vat: int) -> dict[str, int]:
    """Platform and agency shares are rounded down; the state budget gets the remainder."""
    shares = policy.fees.shares
    platform = round_down(net * shares.platform)
    agency = round_down(net * shares.agency)
    budget = net - platform - agency
    for code, name, rate, amount in (
        ("share.platform", "platform", shares.platform, platform),
        ("share.agency", "agency", shares.agency, agency),
        ("share.state_budget", "state_budget", shares.state_budget, budget),
    ):
        book.line(code, labels.share(name, rate), amount, LineKind.SHARE)
    book.note(
        "fees.shares",
        {"net": str(net)},
        f"platform={platform} agency={agency} state_budget={budget} vat={vat}",
    )
    return {"platform_fee": platform, "agency_share": agency, "budget_share": budget, "vat": vat}
