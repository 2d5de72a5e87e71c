"""Events of orders: an order's life from placement to fulfilment or refund."""

from __future__ import annotations

from pydantic import AwareDatetime

from services.contracts._base import RevenueSplit
from services.contracts.envelope import EventPayload, register
from services.contracts.topics import ORDERS_ORDERS


class _OrderEvent(EventPayload):
    topic = ORDERS_ORDERS

    order_id: str
    buyer_org: str
    listing_id: str

    def aggregate_id(self) -> str:
        return self.order_id


@register
class OrderPlaced(_OrderEvent):
    event_type = "vn.vndx.orders.order.placed.v1"

    quote_id: str
    publisher_org: str
    listing_version: int
    product: str
    duration_days: int
    total: int
    currency: str
    placed_at: AwareDatetime
    purpose: str | None = None
    justification: str | None = None
    #: RFC 8785 SHA-256 of the usage policy (ODRL offer) the buyer accepted.
    policy_sha256: str | None = None
    approval: str = "automatic"


@register
class OrderPaid(_OrderEvent):
    """Payment verified: access may now build the grant."""

    event_type = "vn.vndx.orders.order.paid.v1"

    quote_id: str
    publisher_org: str
    listing_version: int
    product: str
    duration_days: int
    total: int
    currency: str
    split: RevenueSplit
    payment_provider: str
    paid_at: AwareDatetime
    renews_grant_id: str | None = None
    purpose: str | None = None
    justification: str | None = None
    policy_sha256: str | None = None


@register
class OrderPaymentFailed(_OrderEvent):
    event_type = "vn.vndx.orders.order.payment_failed.v1"

    reason: str


@register
class OrderCancelled(_OrderEvent):
    event_type = "vn.vndx.orders.order.cancelled.v1"

    reason: str


@register
class OrderRefunded(_OrderEvent):
    event_type = "vn.vndx.orders.order.refunded.v1"

    amount: int
    reason: str


@register
class OrderFulfilled(_OrderEvent):
    event_type = "vn.vndx.orders.order.fulfilled.v1"

    grant_id: str


@register
class OrderAwaitingApproval(_OrderEvent):
    """A purpose-bound request waits for the publishing organisation's decision."""

    event_type = "vn.vndx.orders.order.awaiting_approval.v1"

    publisher_org: str
    purpose: str | None
    justification: str | None
    decide_by: AwareDatetime


@register
class OrderApproved(_OrderEvent):
    """The publisher approved the request; the order now awaits payment."""

    event_type = "vn.vndx.orders.order.approved.v1"

    publisher_org: str
    by_org: str
    note: str


@register
class OrderRejected(_OrderEvent):
    """The publisher rejected the request, or its deadline passed (``automatic``)."""

    event_type = "vn.vndx.orders.order.rejected.v1"

    publisher_org: str
    by_org: str | None
    note: str
    automatic: bool = False
