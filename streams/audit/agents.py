"""The audit worker's consumer: which events each agent sees, wired into one consumer group.

One group (`audit`) reads `access.grants`, `orders.orders` and
`catalog.listings`; for each event the ledger, usage-watch and KPI agents run
in the same transaction as the inbox row, so a redelivered event changes
nothing and a failed one changes nothing either.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from services.common.kafka import Handler
from services.common.runtime import ConsumerSpec
from services.common.settings import Settings
from services.contracts import access, catalog, orders
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.topics import ACCESS_GRANTS, CATALOG_LISTINGS, ORDERS_ORDERS
from streams.audit import kpis, recorder
from streams.audit.facts import remember_listing
from streams.audit.watch import UsageWatch, WatchThresholds

GROUP_ID = "audit"

ACCESS_EVENTS = (
    access.GrantIssued,
    access.GrantFailed,
    access.GrantDownloadUrlIssued,
    access.GrantQueried,
    access.GrantRevoked,
    access.GrantExpired,
    access.GrantRenewed,
)
ORDER_EVENTS = (orders.OrderPaid, orders.OrderRefunded)
LISTING_EVENTS = (
    catalog.ListingPublished,
    catalog.ListingUpdated,
    catalog.ListingVersionAdded,
    catalog.ListingRetired,
)


def _chain(*steps: Handler) -> Handler:
    def handle(session: Session, envelope: Envelope, payload: EventPayload) -> None:
        for step in steps:
            step(session, envelope, payload)

    return handle


def _listing(session: Session, _envelope: Envelope, payload: EventPayload) -> None:
    snapshot = getattr(payload, "listing", None)
    if isinstance(snapshot, catalog.ListingSnapshot):
        remember_listing(session, snapshot)


def audit_handlers(settings: Settings) -> dict[str, Handler]:
    watch = UsageWatch(WatchThresholds.from_settings(settings))
    handlers: dict[str, Handler] = {}
    for access_event in ACCESS_EVENTS:
        handlers[access_event.event_type] = _chain(
            recorder.record_event, watch.observe, kpis.observe
        )
    for order_event in ORDER_EVENTS:
        handlers[order_event.event_type] = _chain(recorder.record_event, kpis.observe)
    for listing_event in LISTING_EVENTS:
        handlers[listing_event.event_type] = _listing
    return handlers


def audit_consumers(settings: Settings) -> Sequence[ConsumerSpec]:
    return [
        ConsumerSpec(
            GROUP_ID, [ACCESS_GRANTS, ORDERS_ORDERS, CATALOG_LISTINGS], audit_handlers(settings)
        )
    ]
