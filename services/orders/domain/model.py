"""The order aggregate and its state machine.

    placed -> awaiting_payment -> paid -> fulfilled
    placed | awaiting_payment -> cancelled | expired | payment_failed
    placed -> paid                (a zero-đồng waiver settles at once)
    payment_failed -> awaiting_payment | paid   (the buyer tries again; a late success)
    paid -> refund_pending -> refunded

Every change goes through ``_move``, which refuses any pair not in ``TRANSITIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal
from uuid import uuid4

from services.orders.domain.errors import InvalidTransition
from services.orders.domain.quote_terms import QuoteTerms

PaymentProvider = Literal["stripe", "local"]


class OrderStatus(StrEnum):
    PLACED = "placed"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    PAYMENT_FAILED = "payment_failed"
    EXPIRED = "expired"
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PLACED: frozenset({S.AWAITING_PAYMENT, S.PAID, S.CANCELLED, S.EXPIRED, S.PAYMENT_FAILED}),
    S.AWAITING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.EXPIRED, S.PAYMENT_FAILED}),
    S.PAYMENT_FAILED: frozenset({S.AWAITING_PAYMENT, S.PAID}),
    S.PAID: frozenset({S.FULFILLED, S.REFUND_PENDING}),
    S.REFUND_PENDING: frozenset({S.REFUNDED}),
    S.FULFILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REFUNDED: frozenset(),
}
UNPAID: frozenset[OrderStatus] = frozenset({S.PLACED, S.AWAITING_PAYMENT, S.PAYMENT_FAILED})


@dataclass
class Order:
    """One purchase of one quote by the buyer organisation the quote was issued to."""

    terms: QuoteTerms
    publisher_org: str
    provider: PaymentProvider
    placed_at: datetime
    payment_deadline: datetime
    id: str = field(default_factory=lambda: str(uuid4()))
    status: OrderStatus = S.PLACED
    payment_key: str = ""
    payment_ref: str | None = None
    client_secret: str | None = None
    paid_at: datetime | None = None
    closed_at: datetime | None = None
    reason: str | None = None
    grant_id: str | None = None
    refund_ref: str | None = None
    refunded_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.payment_key:
            # Stored with the order before any call to the provider, so that a retry
            # after a crash asks the provider for the same payment, never a second one.
            self.payment_key = f"vndx-order-{self.id}"

    @classmethod
    def place(
        cls,
        terms: QuoteTerms,
        *,
        publisher_org: str,
        provider: PaymentProvider,
        now: datetime,
        payment_window: timedelta,
    ) -> Order:
        return cls(
            terms=terms,
            publisher_org=publisher_org,
            provider=provider,
            placed_at=now,
            payment_deadline=now + payment_window,
        )

    @property
    def buyer_org(self) -> str:
        return self.terms.buyer_org

    @property
    def total(self) -> int:
        return self.terms.total

    @property
    def is_waiver(self) -> bool:
        return self.terms.total == 0

    def _move(self, target: OrderStatus) -> None:
        if target not in TRANSITIONS[self.status]:
            raise InvalidTransition(
                f"an order that is {self.status.value} cannot become {target.value}",
                field="status",
            )
        self.status = target

    def await_payment(self, payment_ref: str, client_secret: str | None = None) -> None:
        """The provider opened a payment (a PaymentIntent, an invoice)."""
        if self.status == S.AWAITING_PAYMENT and self.payment_ref == payment_ref:
            return
        self._move(S.AWAITING_PAYMENT)
        self.payment_ref = payment_ref
        self.client_secret = client_secret
        self.reason = None

    def mark_paid(self, now: datetime) -> None:
        self._move(S.PAID)
        self.paid_at = now

    def settle_waiver(self, now: datetime) -> None:
        if not self.is_waiver:
            raise InvalidTransition("only a zero-đồng order settles without payment", field="total")
        self.payment_ref = "waiver"
        self.mark_paid(now)

    def fail_payment(self, reason: str) -> None:
        self._move(S.PAYMENT_FAILED)
        self.reason = reason

    def cancel(self, reason: str, now: datetime) -> None:
        self._move(S.CANCELLED)
        self.reason = reason
        self.closed_at = now

    def expire(self, now: datetime) -> None:
        if now < self.payment_deadline:
            raise InvalidTransition("the payment deadline has not passed", field="status")
        self._move(S.EXPIRED)
        self.reason = "unpaid past the payment deadline"
        self.closed_at = now

    def fulfil(self, grant_id: str, now: datetime) -> None:
        self._move(S.FULFILLED)
        self.grant_id = grant_id
        self.closed_at = now

    def request_refund(self, reason: str) -> None:
        self._move(S.REFUND_PENDING)
        self.reason = reason

    def complete_refund(self, refund_ref: str, now: datetime) -> None:
        self._move(S.REFUNDED)
        self.refund_ref = refund_ref
        self.refunded_at = now
        self.closed_at = now
