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
