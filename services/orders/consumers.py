"""Events orders applies: who publishes each listing, and what access did with a paid order.

Each handler runs inside the consumer loop's transaction, with the inbox row that makes a
redelivery a no-op.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from services.common.kafka import Handler
from services.common.runtime import ConsumerSpec
from services.contracts import access, catalog
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.topics import ACCESS_GRANTS, CATALOG_LISTINGS
from services.orders import handlers
from services.orders.adapters.orm import remember_listing_owner
from services.orders.adapters.payments import PaymentPort

GROUP_ID = "orders"
LISTING_EVENTS = (
    catalog.ListingPublished,
    catalog.ListingUpdated,
    catalog.ListingVersionAdded,
    catalog.ListingRetired,
)


def on_listing(session: Session, _: Envelope, payload: EventPayload) -> None:
    assert isinstance(payload, LISTING_EVENTS)
    remember_listing_owner(session, payload.listing.listing_id, payload.listing.org)


def on_grant_issued(session: Session, _: Envelope, payload: EventPayload) -> None:
    assert isinstance(payload, access.GrantIssued)
    handlers.fulfil(session, payload.order_id, payload.grant_id, datetime.now(UTC))


def grant_failed_handler(payments: PaymentPort) -> Handler:
    def on_grant_failed(session: Session, _: Envelope, payload: EventPayload) -> None:
        assert isinstance(payload, access.GrantFailed)
        handlers.start_refund(
            session,
            payments,
            payload.order_id,
            f"access could not be granted: {payload.reason}",
            datetime.now(UTC),
        )

    return on_grant_failed


def consumer_specs(payments: PaymentPort) -> list[ConsumerSpec]:
    routes: dict[str, Handler] = {cls.event_type: on_listing for cls in LISTING_EVENTS}
    routes[access.GrantIssued.event_type] = on_grant_issued
    routes[access.GrantFailed.event_type] = grant_failed_handler(payments)
    return [ConsumerSpec(GROUP_ID, [CATALOG_LISTINGS, ACCESS_GRANTS], routes)]
