"""Properties of every quote under random valid policies, datasets and buyers."""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.pricing.domain import (
    ADDITIVE_KINDS,
    BuyerProfile,
    DatasetFacts,
    LineKind,
    Policy,
    PricedQuote,
    Product,
    load_policy,
    make_quote,
    price,
)

from .pricing_builders import NOW, buyers, dataset_facts, policies

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def any_offer(policy: Policy, data: st.DataObject) -> tuple[Product, int]:
    product = data.draw(st.sampled_from(sorted(policy.products)))
    return product, data.draw(st.sampled_from(policy.products[product].durations))


@PROPERTY_SETTINGS
@given(policy=policies(), facts=dataset_facts(), buyer=buyers, data=st.data())
def test_every_quote_adds_up_and_respects_the_policy_bounds(
    policy: Policy, facts: DatasetFacts, buyer: BuyerProfile, data: st.DataObject
) -> None:
    product, days = any_offer(policy, data)

    quote = price(policy, facts, product, days, buyer, NOW)

    fees = policy.fees
    assert quote.total == sum(line.amount for line in quote.lines if line.kind in ADDITIVE_KINDS)
    assert quote.total == quote.net + quote.vat
    assert quote.split.total == quote.total
    assert sum(line.amount for line in quote.lines if line.kind is LineKind.SHARE) == quote.net
    assert min(quote.split.model_dump().values()) >= 0
    assert quote.total >= 0
    assert quote.net % fees.rounding_step == 0
    assert quote.vat == int((quote.net * fees.vat_rate).quantize(1, rounding=ROUND_HALF_UP))
    if quote.waived:
        assert quote.total == 0
    else:
        assert fees.minimum_charge <= quote.net <= fees.maximum_charge
    assert quote.subtotal <= fees.maximum_charge


@PROPERTY_SETTINGS
@given(policy=policies(), facts=dataset_facts(), buyer=buyers, data=st.data())
def test_discounts_never_exceed_the_cap(
    policy: Policy, facts: DatasetFacts, buyer: BuyerProfile, data: st.DataObject
) -> None:
    product, days = any_offer(policy, data)

    quote = price(policy, facts, product, days, buyer, NOW)

    incentives = [line.amount for line in quote.lines if line.code.startswith("discount.")]
    cap = policy.incentives.discount_cap
    assert all(amount <= 0 for amount in incentives)
    assert -sum(incentives) <= quote.subtotal * cap
    assert -sum(incentives) == int(
        (quote.subtotal * min(cap, _qualifying_rate(quote))).quantize(1, rounding=ROUND_FLOOR)
    )


def _qualifying_rate(quote: PricedQuote) -> Decimal:
    rates = [
        Decimal(step.inputs["rate"])
        for step in quote.trace
        if step.rule.startswith("incentives.") and "rate" in step.inputs
    ]
    return sum(rates, Decimal(0))


@PROPERTY_SETTINGS
@given(policy=policies(), facts=dataset_facts(), buyer=buyers, data=st.data())
def test_longer_access_never_costs_less(
    policy: Policy, facts: DatasetFacts, buyer: BuyerProfile, data: st.DataObject
) -> None:
    product = data.draw(st.sampled_from(sorted(policy.products)))

    totals = [
        price(policy, facts, product, days, buyer, NOW).total
        for days in policy.products[product].durations
    ]

    assert totals == sorted(totals)


@PROPERTY_SETTINGS
@given(
    policy=policies(),
    facts=dataset_facts(),
    buyer=buyers,
    extra_rows=st.integers(1, 20_000_000),
    data=st.data(),
)
def test_more_rows_never_cost_less(
    policy: Policy, facts: DatasetFacts, buyer: BuyerProfile, extra_rows: int, data: st.DataObject
) -> None:
    product, days = any_offer(policy, data)
    bigger = facts.model_copy(update={"row_count": facts.row_count + extra_rows})

    smaller_quote = price(policy, facts, product, days, buyer, NOW)
    bigger_quote = price(policy, bigger, product, days, buyer, NOW)

    assert smaller_quote.subtotal <= bigger_quote.subtotal
    assert smaller_quote.total <= bigger_quote.total


@PROPERTY_SETTINGS
@given(policy=policies(), facts=dataset_facts(), buyer=buyers, data=st.data())
def test_the_policy_alone_reproduces_the_quote(
    policy: Policy, facts: DatasetFacts, buyer: BuyerProfile, data: st.DataObject
) -> None:
    product, days = any_offer(policy, data)
    republished = load_policy(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False))

    first = price(policy, facts, product, days, buyer, NOW)
    again = price(policy, facts, product, days, buyer, NOW)
    from_text = price(republished, facts, product, days, buyer, NOW)

    assert first == again == from_text
    one = make_quote(first, purpose="analysis", justification="public study")
    two = make_quote(from_text, purpose="analysis", justification="public study")
    assert one.id != two.id
    assert one.model_dump(exclude={"id"}) == two.model_dump(exclude={"id"})
