"""Statements read from the settlement ledger: a provider's month, the operator's totals.

Totals reconcile with the orders themselves: the ledger's sum for a month equals the
totals of orders paid that month less the amounts refunded that month (the whole total,
or a terminated grant's pro-rata part).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, func
from sqlmodel import col, select

from services.common.db import reading
from services.orders.adapters.orm import LedgerRow, OrderRow
from services.orders.domain.settlement import PARTS, STATE_BUDGET, parse_month


@dataclass(frozen=True)
class StatementLine:
    order_id: str
    entry: str
    part: str
    party: str
    amount: int
    booked_at: datetime


@dataclass
class Statement:
    org: str
    month: str
    lines: list[StatementLine]
    by_part: dict[str, int]

    @property
    def agency_share(self) -> int:
        return self.by_part["agency_share"]

    @property
    def gross(self) -> int:
        return sum(self.by_part.values())


@dataclass
class Totals:
    month: str
    agencies: dict[str, int] = field(default_factory=dict)
    budget_share: int = 0
    platform_fee: int = 0
    vat: int = 0
    ledger_total: int = 0
    orders_total: int = 0

    @property
    def reconciled(self) -> bool:
        return self.ledger_total == self.orders_total


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def provider_statement(engine: Engine, org: str, month: str) -> Statement:
    """Every line of the month on orders of ``org``'s listings, and the sum of each part."""
    parse_month(month)
    with reading(engine) as session:
        rows = session.exec(
            select(LedgerRow)
            .where(LedgerRow.publisher_org == org, LedgerRow.month == month)
            .order_by(col(LedgerRow.seq))
        ).all()
    by_part: dict[str, int] = dict.fromkeys(PARTS, 0)
    for row in rows:
        by_part[row.part] += row.amount
    return Statement(
        org=org,
        month=month,
        lines=[
            StatementLine(r.order_id, r.entry, r.part, r.party, r.amount, _aware(r.booked_at))
            for r in rows
        ],
        by_part=by_part,
    )


def _month_bounds(month: str) -> tuple[datetime, datetime]:
    year, number = parse_month(month)
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=UTC)
    return start, end


def month_totals(engine: Engine, month: str) -> Totals:
    """Per agency, for the state budget, the platform and VAT; with the orders' own sum."""
    start, end = _month_bounds(month)
    totals = Totals(month=month)
    with reading(engine) as session:
        parts = session.exec(
            select(LedgerRow.part, LedgerRow.party, func.sum(LedgerRow.amount))
            .where(LedgerRow.month == month)
            .group_by(LedgerRow.part, LedgerRow.party)
        ).all()
        paid = session.exec(
            select(func.coalesce(func.sum(OrderRow.total), 0)).where(
                col(OrderRow.paid_at) >= start, col(OrderRow.paid_at) < end
            )
        ).one()
        refunded = session.exec(
            select(
                func.coalesce(func.sum(func.coalesce(OrderRow.refund_amount, OrderRow.total)), 0)
            ).where(col(OrderRow.refunded_at) >= start, col(OrderRow.refunded_at) < end)
        ).one()
    for part, party, amount in parts:
        value = int(amount or 0)
        totals.ledger_total += value
        if part == "agency_share":
            totals.agencies[party] = totals.agencies.get(party, 0) + value
        elif part == "budget_share":
            assert party == STATE_BUDGET
            totals.budget_share += value
        elif part == "platform_fee":
            totals.platform_fee += value
        else:
            totals.vat += value
    totals.orders_total = int(paid) - int(refunded)
    return totals
