"""The order state machine: every transition, allowed and refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.orders.domain.errors import InvalidTransition
from services.orders.domain.model import Order, OrderStatus
from services.orders.domain.quote_terms import QuoteTerms

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
S = OrderStatus

# The lifecycle the issue asks for, written out independently of the model's table.
ALLOWED: set[tuple[OrderStatus, OrderStatus]] = {
    (S.PLACED, S.AWAITING_PAYMENT),
    (S.PLACED, S.PAID),
    (S.PLACED, S.CANCELLED),
    (S.PLACED, S.EXPIRED),
    (S.PLACED, S.PAYMENT_FAILED),
    (S.AWAITING_PAYMENT, S.PAID),
    (S.AWAITING_PAYMENT, S.CANCELLED),
    (S.AWAITING_PAYMENT, S.EXPIRED),
    (S.AWAITING_PAYMENT, S.PAYMENT_FAILED),
    (S.PAYMENT_FAILED, S.AWAITING_PAYMENT),
    (S.PAYMENT_FAILED, S.PAID),
    (S.PAID, S.FULFILLED),
    (S.PAID, S.REFUND_PENDING),
    (S.REFUND_PENDING, S.REFUNDED),
    (S.PLACED, S.AWAITING_APPROVAL),
    (S.AWAITING_APPROVAL, S.REJECTED),
    (S.AWAITING_APPROVAL, S.CANCELLED),
    (S.PAID, S.TERMINATED),
    (S.FULFILLED, S.TERMINATED),
    (S.FULFILLED, S.REFUND_PENDING),
}


def terms(total: int = 1_100_000) -> QuoteTerms:
    vat = total // 11
    return QuoteTerms.model_validate(
        {
            "id": "q-1",
            "listing_id": "l-1",
            "listing_version": 1,
            "product": "download",
            "duration_days": 30,
            "buyer_org": "startup-a",
            "segment": "startup",
            "lines": [{"code": "base", "amount": total, "kind": "base"}],
            "total": total,
            "currency": "VND",
            "policy_version": "p",
            "issued_at": NOW.isoformat(),
            "expires_at": (NOW + timedelta(hours=1)).isoformat(),
            "split": {
                "platform_fee": 0,
                "agency_share": total - vat,
                "budget_share": 0,
                "vat": vat,
            },
            "key_id": "k",
            "signature": "s",
        }
    )


def order_in(status: OrderStatus, total: int = 1_100_000) -> Order:
    order = Order.place(
        terms(total),
        publisher_org="so-tnmt",
        provider="local",
        now=NOW - timedelta(days=10),
        payment_window=timedelta(days=3),
    )
    order.status = status
    if status not in (S.PLACED, S.AWAITING_APPROVAL):
        order.payment_ref = "ref-0"
    return order


ACTIONS: dict[OrderStatus, Callable[[Order], None]] = {
    S.AWAITING_PAYMENT: lambda o: o.await_payment("pi_new"),
    S.PAID: lambda o: o.mark_paid(NOW),
    S.FULFILLED: lambda o: o.fulfil("grant-1", NOW),
    S.CANCELLED: lambda o: o.cancel("buyer changed mind", NOW),
    S.EXPIRED: lambda o: o.expire(NOW),
    S.PAYMENT_FAILED: lambda o: o.fail_payment("card declined"),
    S.REFUND_PENDING: lambda o: o.request_refund("grant failed"),
    S.REFUNDED: lambda o: o.complete_refund("re_1", NOW),
    S.AWAITING_APPROVAL: lambda o: o.await_approval(NOW + timedelta(days=7)),
    S.REJECTED: lambda o: o.reject(None, "no decision by the deadline", NOW),
    S.TERMINATED: lambda o: o.terminate("breach of the usage policy", NOW),
}

PAIRS = [(source, target) for source in S for target in ACTIONS]


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}->{t}" for s, t in PAIRS])
def test_each_transition_is_allowed_or_refused_as_the_lifecycle_says(
    source: OrderStatus, target: OrderStatus
) -> None:
    order = order_in(source)
    if (source, target) in ALLOWED:
        ACTIONS[target](order)
        assert order.status == target
    else:
        with pytest.raises(InvalidTransition) as refused:
            ACTIONS[target](order)
        assert order.status == source
        assert source.value in refused.value.message and target.value in refused.value.message


def test_nothing_leads_back_to_placed() -> None:
    assert all(target != S.PLACED for _, target in ALLOWED)


def test_the_happy_path_records_times_and_references() -> None:
    order = order_in(S.PLACED)
    order.await_payment("VNDX-2026-000001")
    order.mark_paid(NOW)
    order.fulfil("grant-9", NOW + timedelta(minutes=1))
    assert (order.payment_ref, order.paid_at, order.grant_id) == (
        "VNDX-2026-000001",
        NOW,
        "grant-9",
    )
    assert order.closed_at == NOW + timedelta(minutes=1)


def test_refund_path_records_the_refund() -> None:
    order = order_in(S.PAID)
    order.request_refund("access could not build the extract")
    order.complete_refund("re_42", NOW)
    assert (order.status, order.refund_ref, order.refunded_at) == (S.REFUNDED, "re_42", NOW)


def test_an_order_expires_only_after_its_deadline() -> None:
    order = Order.place(
        terms(), publisher_org="p", provider="local", now=NOW, payment_window=timedelta(hours=2)
    )
    with pytest.raises(InvalidTransition):
        order.expire(NOW + timedelta(hours=1))
    order.expire(NOW + timedelta(hours=2))
    assert order.status == S.EXPIRED


def test_only_a_zero_total_settles_as_a_waiver() -> None:
    with pytest.raises(InvalidTransition):
        order_in(S.PLACED).settle_waiver(NOW)
    free = order_in(S.PLACED, total=0)
    free.settle_waiver(NOW)
    assert (free.status, free.payment_ref) == (S.PAID, "waiver")


def test_recording_the_same_payment_twice_is_harmless() -> None:
    order = order_in(S.PLACED)
    order.await_payment("pi_1", "secret")
    order.await_payment("pi_1", "secret")
    assert order.status == S.AWAITING_PAYMENT
    with pytest.raises(InvalidTransition):
        order.await_payment("pi_other")


def test_the_payment_key_is_fixed_when_the_order_is_made() -> None:
    order = order_in(S.PLACED)
    assert order.payment_key == f"vndx-order-{order.id}"
