"""The order aggregate and its state machine.

    placed -> awaiting_payment -> paid -> fulfilled
    placed | awaiting_payment -> cancelled | expired | payment_failed
    placed -> paid                (a zero-đồng waiver settles at once)
    payment_failed -> awaiting_payment | paid   (the buyer tries again; a late success)
    paid -> refund_pending -> refunded
    placed -> awaiting_approval -> awaiting_payment | rejected | cancelled
               (approved: a zero-đồng waiver then settles at once)
    paid | fulfilled -> terminated          (grant terminated, no refund)
    fulfilled -> refund_pending             (grant terminated with a refund)

Every change goes through ``_move``, which refuses any pair not in ``TRANSITIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal
from uuid import uuid4

from services.orders.domain.errors import Conflict, InvalidTransition
from services.orders.domain.quote_terms import QuoteTerms

PaymentProvider = Literal["stripe", "local"]
ApprovalMode = Literal["automatic", "provider"]


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
    AWAITING_APPROVAL = "awaiting_approval"
    REJECTED = "rejected"
    TERMINATED = "terminated"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PLACED: frozenset(
        {S.AWAITING_PAYMENT, S.PAID, S.CANCELLED, S.EXPIRED, S.PAYMENT_FAILED, S.AWAITING_APPROVAL}
    ),
    S.AWAITING_APPROVAL: frozenset({S.AWAITING_PAYMENT, S.REJECTED, S.CANCELLED}),
    S.AWAITING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.EXPIRED, S.PAYMENT_FAILED}),
    S.PAYMENT_FAILED: frozenset({S.AWAITING_PAYMENT, S.PAID}),
    S.PAID: frozenset({S.FULFILLED, S.REFUND_PENDING, S.TERMINATED}),
    S.REFUND_PENDING: frozenset({S.REFUNDED}),
    S.FULFILLED: frozenset({S.REFUND_PENDING, S.TERMINATED}),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REFUNDED: frozenset(),
    S.REJECTED: frozenset(),
    S.TERMINATED: frozenset(),
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
    #: Stripe Checkout's page for this order's payment.
    checkout_url: str | None = None
    paid_at: datetime | None = None
    closed_at: datetime | None = None
    reason: str | None = None
    grant_id: str | None = None
    #: A renewal: access extends this grant once the order is paid.
    renews_grant_id: str | None = None
    refund_ref: str | None = None
    refunded_at: datetime | None = None
    refund_amount: int | None = None
    policy_sha256: str | None = None
    """The RFC 8785 SHA-256 of the usage policy (ODRL offer) the buyer accepted."""
    approval: ApprovalMode = "automatic"
    decide_by: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    """The publishing organisation that decided; None for an automatic rejection."""
    decision_note: str | None = None

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
        policy_sha256: str | None = None,
        approval: ApprovalMode = "automatic",
    ) -> Order:
        return cls(
            terms=terms,
            publisher_org=publisher_org,
            provider=provider,
            placed_at=now,
            payment_deadline=now + payment_window,
            policy_sha256=policy_sha256,
            approval=approval,
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

    @property
    def decision(self) -> str | None:
        """'approved', 'rejected' or None (undecided, or no approval needed)."""
        if self.decided_at is None:
            return None
        return "rejected" if self.status == S.REJECTED else "approved"

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
        self._refuse_before_approval(S.AWAITING_PAYMENT)
        if not (self.status == S.AWAITING_PAYMENT and self.payment_ref is None):
            self._move(S.AWAITING_PAYMENT)
        self.payment_ref = payment_ref
        self.client_secret = client_secret
        self.reason = None

    def _refuse_before_approval(self, target: OrderStatus) -> None:
        if self.status in (S.AWAITING_APPROVAL, S.REJECTED):
            raise InvalidTransition(
                f"an order that is {self.status.value} cannot become {target.value}: "
                "it can be paid only once the publisher has approved it",
                field="status",
            )

    def mark_paid(self, now: datetime) -> None:
        self._refuse_before_approval(S.PAID)
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

    def await_approval(self, decide_by: datetime) -> None:
        """A purpose-bound request waits for the publisher's decision until ``decide_by``."""
        self._move(S.AWAITING_APPROVAL)
        self.decide_by = decide_by

    def _check_decidable(self, now: datetime) -> None:
        if self.status != S.AWAITING_APPROVAL:
            decided = f" ({self.decision})" if self.decision else ""
            raise Conflict(
                f"the order is {self.status.value}{decided}; only a request awaiting approval "
                "can be decided",
                field="status",
            )
        assert self.decide_by is not None
        if now >= self.decide_by:
            raise Conflict(
                f"the deadline to decide passed at {self.decide_by.isoformat()}",
                field="decision",
            )

    def approve(self, by_org: str, note: str, now: datetime, payment_window: timedelta) -> None:
        """Approved: the order awaits payment, from now on (the payment window restarts)."""
        self._check_decidable(now)
        self._move(S.AWAITING_PAYMENT)
        self._decided(by_org, note, now)
        self.payment_deadline = now + payment_window

    def reject(self, by_org: str | None, note: str, now: datetime) -> None:
        """Rejected by the publisher (``by_org``) or, past the deadline, automatically."""
        if by_org is not None:
            self._check_decidable(now)
        self._move(S.REJECTED)
        self._decided(by_org, note, now)
        self.reason = note or "rejected by the publisher"
        self.closed_at = now

    def _decided(self, by_org: str | None, note: str, now: datetime) -> None:
        self.decided_at = now
        self.decided_by = by_org
        self.decision_note = note

    def terminate(self, reason: str, now: datetime) -> None:
        """The grant ended early without a refund."""
        self._move(S.TERMINATED)
        self.reason = reason
        self.closed_at = now

    def request_refund(self, reason: str, amount: int | None = None) -> None:
        """Refund ``amount`` đồng (the whole total by default)."""
        if amount is not None and not 0 < amount <= self.total:
            raise InvalidTransition(
                f"a refund of {amount} đồng does not fit a total of {self.total}", field="amount"
            )
        self._move(S.REFUND_PENDING)
        self.reason = reason
        self.refund_amount = self.total if amount is None else amount

    def complete_refund(self, refund_ref: str, now: datetime) -> None:
        self._move(S.REFUNDED)
        self.refund_ref = refund_ref
        self.refunded_at = now
        self.closed_at = now
