"""Provider approval and termination refunds, as pure rules: working-day deadlines,
who may decide when, and how a partial refund reverses each part of the split."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.orders.domain.approval import add_working_days
from services.orders.domain.errors import Conflict, InvalidTransition
from services.orders.domain.model import Order, OrderStatus
from services.orders.domain.quote_terms import SplitTerms
from services.orders.domain.settlement import refund_amount, refund_lines, sale_lines

from .test_orders_state_machine import NOW, order_in

ICT = timedelta(hours=7)


def _vn(year: int, month: int, day: int, hour: int) -> datetime:
    """A Vietnam wall-clock time as UTC."""
    return datetime(year, month, day, hour, tzinfo=UTC) - ICT


@pytest.mark.parametrize(
    ("placed", "days", "due"),
    [
        (_vn(2026, 3, 2, 10), 5, _vn(2026, 3, 9, 10)),  # Monday -> next Monday
        (_vn(2026, 3, 6, 10), 1, _vn(2026, 3, 9, 10)),  # Friday -> Monday
        (_vn(2026, 3, 4, 10), 5, _vn(2026, 3, 11, 10)),  # Wednesday -> next Wednesday
        (_vn(2026, 3, 7, 10), 1, _vn(2026, 3, 9, 10)),  # Saturday -> Monday
        (_vn(2026, 3, 8, 23), 2, _vn(2026, 3, 10, 23)),  # Sunday night -> Tuesday
        (_vn(2026, 3, 2, 10), 10, _vn(2026, 3, 16, 10)),  # two weeks
    ],
)
def test_the_deadline_counts_working_days_in_vietnam(
    placed: datetime, days: int, due: datetime
) -> None:
    assert add_working_days(placed, days) == due


def test_a_friday_evening_in_utc_is_already_saturday_in_hanoi() -> None:
    friday_utc_evening = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)  # Saturday 03:00 in Hà Nội
    assert add_working_days(friday_utc_evening, 1) == datetime(2026, 3, 8, 20, 0, tzinfo=UTC)


def _waiting(decide_by: datetime = NOW + timedelta(days=7)) -> Order:
    order = order_in(OrderStatus.PLACED)
    order.approval = "provider"
    order.await_approval(decide_by)
    return order


def test_an_approved_order_awaits_payment_with_a_fresh_payment_window() -> None:
    order = _waiting()
    order.approve("so-tnmt", "ok for research", NOW, timedelta(days=3))
    assert order.status == OrderStatus.AWAITING_PAYMENT
    assert order.payment_ref is None and order.payment_deadline == NOW + timedelta(days=3)
    assert (order.decision, order.decided_by, order.decision_note) == (
        "approved",
        "so-tnmt",
        "ok for research",
    )
    order.await_payment("VNDX-2026-000001")
    assert order.payment_ref == "VNDX-2026-000001"


def test_a_decided_request_cannot_be_decided_again() -> None:
    order = _waiting()
    order.reject("so-tnmt", "purpose too broad", NOW)
    assert (order.status, order.decision, order.reason) == (
        OrderStatus.REJECTED,
        "rejected",
        "purpose too broad",
    )
    with pytest.raises(Conflict) as twice:
        order.approve("so-tnmt", "", NOW, timedelta(days=3))
    assert twice.value.field == "status" and "rejected" in twice.value.message


def test_no_decision_once_the_deadline_has_passed() -> None:
    order = _waiting(decide_by=NOW)
    with pytest.raises(Conflict) as late:
        order.approve("so-tnmt", "", NOW, timedelta(days=3))
    assert late.value.field == "decision"
    assert order.decision is None
    order.reject(None, "the publisher did not decide in time", NOW)  # the sweeper may
    assert order.decided_by is None and order.status == OrderStatus.REJECTED


def test_nothing_is_paid_before_approval() -> None:
    order = _waiting()
    with pytest.raises(InvalidTransition):
        order.mark_paid(NOW)
    with pytest.raises(InvalidTransition):
        order.await_payment("pi_1")
    assert order.status == OrderStatus.AWAITING_APPROVAL


@pytest.mark.parametrize(
    ("kind", "remaining", "period", "expected"),
    [
        ("none", 100, 200, 0),
        ("full", 0, 200, 1_100_000),
        ("pro_rata", 100, 200, 550_000),
        ("pro_rata", 1, 3, 366_666),  # integer đồng, rounded down
        ("pro_rata", -5, 200, 0),
        ("pro_rata", 999, 200, 1_100_000),
    ],
)
def test_refund_amounts(kind: str, remaining: int, period: int, expected: int) -> None:
    assert refund_amount(kind, 1_100_000, remaining, period) == expected


def test_an_unknown_refund_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown refund kind"):
        refund_amount("half", 100, 1, 2)


def test_a_partial_refund_reverses_each_part_in_proportion_to_the_exact_dong() -> None:
    rng = random.Random(12)
    for _ in range(500):
        parts = [rng.randrange(0, 5_000_000) for _ in range(4)]
        split = SplitTerms(
            platform_fee=parts[0], agency_share=parts[1], budget_share=parts[2], vat=parts[3]
        )
        total = split.total
        amount = rng.randrange(0, total + 1) if total else 0
        reversal = refund_lines(sale_lines("o", "so-tnmt", split, NOW), NOW, amount)
        assert sum(line.amount for line in reversal) == -amount
        for line, part in zip(reversal, parts, strict=True):
            assert -part <= line.amount <= 0
            # each part is within one đồng of its exact share
            assert abs(-line.amount * total - part * amount) < total or total == 0


def test_a_full_refund_reverses_every_line_exactly() -> None:
    split = SplitTerms(
        platform_fee=150_000, agency_share=650_000, budget_share=200_000, vat=100_000
    )
    reversal = refund_lines(sale_lines("o", "so-tnmt", split, NOW), NOW)
    assert [line.amount for line in reversal] == [-150_000, -650_000, -200_000, -100_000]
