"""Events access applies: listing versions from the catalog, paid orders from orders.

Each handler runs inside the consumer loop's transaction, with the inbox row that
makes a redelivery a no-op; a paid order only opens a pending grant here, and the
builder task does the slow work outside any transaction.
"""

from __future__ import annotations

from sqlmodel import Session

from services.access import handlers, listing_terms
from services.common.consumer import Handler
from services.common.runtime import ConsumerSpec
from services.contracts import catalog, orders
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.topics import CATALOG_LISTINGS, ORDERS_ORDERS

GROUP_ID = "access"
LISTING_EVENTS = (
    catalog.ListingPublished,
    catalog.ListingUpdated,
    catalog.ListingVersionAdded,
    catalog.ListingRetired,
)


def on_listing(session: Session, _: Envelope, payload: EventPayload) -> None:
    assert isinstance(payload, LISTING_EVENTS)
    handlers.remember_listing(session, payload.listing)
    listing_terms.remember_terms(session, payload.listing)


def order_paid_handler(iri_base: str) -> Handler:
    """``order.paid`` opens a grant, or renews the one it names (with a new agreement)."""

    def on_order_paid(session: Session, _: Envelope, payload: EventPayload) -> None:
        assert isinstance(payload, orders.OrderPaid)
        handlers.open_grant(session, payload, iri_base=iri_base)

    return on_order_paid


def consumer_specs(iri_base: str) -> list[ConsumerSpec]:
    routes: dict[str, Handler] = {cls.event_type: on_listing for cls in LISTING_EVENTS}
    routes[orders.OrderPaid.event_type] = order_paid_handler(iri_base)
    return [ConsumerSpec(GROUP_ID, [CATALOG_LISTINGS, ORDERS_ORDERS], routes)]
