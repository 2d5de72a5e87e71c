"""Request and response bodies of the orders API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.orders.domain.model import Order
from services.orders.statements import Statement, Totals


class PlaceOrderIn(BaseModel):
    """The signed quote exactly as pricing returned it, and the usage policy accepted."""

    model_config = ConfigDict(extra="forbid")

    quote: dict[str, Any]
    accept_policy: str | None = Field(
        default=None,
        max_length=128,
        description="lowercase hex SHA-256 of the RFC 8785 form of the document "
        "GET /v1/listings/{id}/policy returns (the ODRL offer); missing or different: 409",
    )
    renews_grant_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9-]+$",
        description="a renewal: once paid, access extends this grant of the buyer for the "
        "same listing instead of opening a new one (a grant that cannot be extended "
        "gets a new grant)",
    )


class ApprovalIn(BaseModel):
    """The publisher's decision on a request awaiting its approval."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    note: str = Field(default="", max_length=2000, description="shown to the buyer")


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
    checkout_url: str | None = Field(
        default=None, description="Stripe Checkout: send the buyer here to pay"
    )
    deadline: AwareDatetime


class ApprovalOut(BaseModel):
    """The publisher's approval: ``decision`` is None while the request waits."""

    decide_by: AwareDatetime | None
    decision: Literal["approved", "rejected"] | None
    decided_at: AwareDatetime | None
    decided_by: str | None
    automatic: bool = Field(description="rejected because the deadline passed")
    note: str | None


class RefundOut(BaseModel):
    amount: int
    reason: str | None
    refunded_at: AwareDatetime | None


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
    justification: str | None
    policy_sha256: str | None = Field(description="the usage policy the buyer accepted")
    approval_mode: Literal["automatic", "provider"]
    approval: ApprovalOut | None = Field(description="only for listings the publisher approves")
    refund: RefundOut | None
    total: int
    currency: str
    split: SplitOut
    payment: PaymentOut
    placed_at: AwareDatetime
    paid_at: AwareDatetime | None
    closed_at: AwareDatetime | None
    reason: str | None
    grant_id: str | None
    renews_grant_id: str | None = None
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
            justification=t.justification,
            policy_sha256=order.policy_sha256,
            approval_mode=order.approval,
            approval=_approval(order),
            refund=_refund(order),
            total=t.total,
            currency=t.currency,
            split=SplitOut(**t.split.model_dump()),
            payment=PaymentOut(
                provider="waiver" if order.is_waiver else order.provider,
                reference=order.payment_ref,
                client_secret=order.client_secret,
                checkout_url=order.checkout_url,
                deadline=order.payment_deadline,
            ),
            placed_at=order.placed_at,
            paid_at=order.paid_at,
            closed_at=order.closed_at,
            reason=order.reason,
            grant_id=order.grant_id,
            renews_grant_id=order.renews_grant_id,
            refunded_at=order.refunded_at,
        )


def _approval(order: Order) -> ApprovalOut | None:
    if order.approval != "provider":
        return None
    decision = order.decision
    return ApprovalOut(
        decide_by=order.decide_by,
        decision="approved" if decision == "approved" else "rejected" if decision else None,
        decided_at=order.decided_at,
        decided_by=order.decided_by,
        automatic=decision == "rejected" and order.decided_by is None,
        note=order.decision_note,
    )


def _refund(order: Order) -> RefundOut | None:
    if order.refund_amount is None:
        return None
    return RefundOut(amount=order.refund_amount, reason=order.reason, refunded_at=order.refunded_at)


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
