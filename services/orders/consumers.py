"""Events orders applies: each listing's snapshot, and what access did with a paid order.

Each handler runs inside the consumer loop's transaction, with the inbox row that makes a
redelivery a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlmodel import Session

from services.common.consumer import Handler
from services.common.runtime import ConsumerSpec
from services.contracts import access, catalog
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.topics import ACCESS_GRANTS, CATALOG_LISTINGS
from services.orders import handlers
from services.orders.adapters.orm import remember_listing
from services.orders.adapters.payments import PaymentPort

GROUP_ID = "orders"
LISTING_EVENTS = (
    catalog.ListingPublished,
    catalog.ListingUpdated,
    catalog.ListingVersionAdded,
    catalog.ListingRetired,
)


def listing_handler(forget: Callable[[str], None]) -> Handler:
    """Keep the snapshot; ``forget`` drops this process's cached terms of the listing."""

    def on_listing(session: Session, _: Envelope, payload: EventPayload) -> None:
        assert isinstance(payload, LISTING_EVENTS)
        remember_listing(session, payload.listing)
        forget(payload.listing.listing_id)

    return on_listing


def on_grant_renewed(session: Session, _: Envelope, payload: EventPayload) -> None:
    """A renewal order is fulfilled by the grant it extended."""
    assert isinstance(payload, access.GrantRenewed)
    handlers.fulfil(session, payload.order_id, payload.grant_id, datetime.now(UTC))


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


def grant_terminated_handler(payments: PaymentPort) -> Handler:
    def on_grant_terminated(session: Session, _: Envelope, payload: EventPayload) -> None:
        assert isinstance(payload, access.GrantTerminated)
        handlers.terminate(session, payments, payload, datetime.now(UTC))

    return on_grant_terminated


def consumer_specs(
    payments: PaymentPort, forget_listing: Callable[[str], None] = lambda _: None
) -> list[ConsumerSpec]:
    on_listing = listing_handler(forget_listing)
    routes: dict[str, Handler] = {cls.event_type: on_listing for cls in LISTING_EVENTS}
    routes[access.GrantIssued.event_type] = on_grant_issued
    routes[access.GrantRenewed.event_type] = on_grant_renewed
    routes[access.GrantFailed.event_type] = grant_failed_handler(payments)
    routes[access.GrantTerminated.event_type] = grant_terminated_handler(payments)
    return [ConsumerSpec(GROUP_ID, [CATALOG_LISTINGS, ACCESS_GRANTS], routes, background=True)]
