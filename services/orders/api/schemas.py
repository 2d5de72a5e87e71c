"""Request and response bodies of the orders API."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.orders.domain.model import Order
from services.orders.statements import Statement, Totals


class PlaceOrderIn(BaseModel):
    """The signed quote exactly as pricing returned it."""

    model_config = ConfigDict(extra="forbid")

    quote: dict[str, Any]


class SettleIn(BaseModel):
    """What the operator saw on the bank statement (optional)."""

    model_config = ConfigDict(extra="forbid")

    bank_reference: str | None = Field(default=None, max_length=200)


class SplitOut(BaseModel):
    platform_fee: int
    agency_share: int
    budget_share: int
    vat: int


class PaymentOut(BaseModel):
    provider: str
    reference: str | None
    client_secret: str | None = Field(
        default=None, description="for Stripe.js: confirm the PaymentIntent in the browser"
    )
    deadline: AwareDatetime


class OrderOut(BaseModel):
    id: str
    status: str
    quote_id: str
    buyer_org: str
    publisher_org: str
    listing_id: str
    listing_version: int
    product: str
    duration_days: int
    purpose: str | None
    total: int
    currency: str
    split: SplitOut
    payment: PaymentOut
    placed_at: AwareDatetime
    paid_at: AwareDatetime | None
    closed_at: AwareDatetime | None
    reason: str | None
    grant_id: str | None
    refunded_at: AwareDatetime | None

    @classmethod
    def of(cls, order: Order) -> OrderOut:
        t = order.terms
        return cls(
            id=order.id,
            status=order.status.value,
            quote_id=t.id,
            buyer_org=order.buyer_org,
            publisher_org=order.publisher_org,
            listing_id=t.listing_id,
            listing_version=t.listing_version,
            product=t.product,
            duration_days=t.duration_days,
            purpose=t.purpose,
            total=t.total,
            currency=t.currency,
            split=SplitOut(**t.split.model_dump()),
            payment=PaymentOut(
                provider="waiver" if order.is_waiver else order.provider,
                reference=order.payment_ref,
                client_secret=order.client_secret,
                deadline=order.payment_deadline,
            ),
            placed_at=order.placed_at,
            paid_at=order.paid_at,
            closed_at=order.closed_at,
            reason=order.reason,
            grant_id=order.grant_id,
            refunded_at=order.refunded_at,
        )


class OrderPage(BaseModel):
    items: list[OrderOut]
    page: int
    page_size: int
    total: int


class StatementLineOut(BaseModel):
    order_id: str
    entry: str
    part: str
    party: str
    amount: int
    booked_at: AwareDatetime


class StatementOut(BaseModel):
    org: str
    month: str
    lines: list[StatementLineOut]
    by_part: dict[str, int]
    agency_share: int
    gross: int

    @classmethod
    def of(cls, statement: Statement) -> StatementOut:
        return cls(
            org=statement.org,
            month=statement.month,
            lines=[StatementLineOut(**vars(line)) for line in statement.lines],
            by_part=statement.by_part,
            agency_share=statement.agency_share,
            gross=statement.gross,
        )


class TotalsOut(BaseModel):
    month: str
    agencies: dict[str, int]
    budget_share: int
    platform_fee: int
    vat: int
    ledger_total: int
    orders_total: int
    reconciled: bool

    @classmethod
    def of(cls, totals: Totals) -> TotalsOut:
        return cls(
            month=totals.month,
            agencies=totals.agencies,
            budget_share=totals.budget_share,
            platform_fee=totals.platform_fee,
            vat=totals.vat,
            ledger_total=totals.ledger_total,
            orders_total=totals.orders_total,
            reconciled=totals.reconciled,
        )
