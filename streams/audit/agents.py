"""What the audit worker does with each event type: ledger, usage watch, KPIs, listing facts.

`audit_handlers` maps every event type the worker consumes to the steps it
runs inside the batch's transaction (see `streams.audit.batches`, run by
the faust agent in `streams.audit.faust_app`):

- every access event, payment and refund: a ledger record, then usage watch
  (access only) and KPI windows;
- every decision of issue 12 — inspection and review of a listing, an
  organisation's verification, an order placed (with the usage-policy hash
  the buyer accepted), an order awaiting approval, approved or rejected, a
  grant terminated: a ledger record;
- listing snapshots (published, updated, new version, retired): the facts
  the ledger and KPIs need (publisher, theme, provinces), no record.
"""

from __future__ import annotations

from sqlmodel import Session

from services.common.consumer import Handler
from services.common.settings import Settings
from services.contracts import access, catalog, orders
from services.contracts.envelope import Envelope, EventPayload
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
    access.GrantTerminated,
)
ORDER_EVENTS = (orders.OrderPaid, orders.OrderRefunded)
DECISION_EVENTS = (
    catalog.ListingInspected,
    catalog.ListingReviewed,
    catalog.OrganisationVerified,
    orders.OrderPlaced,
    orders.OrderAwaitingApproval,
    orders.OrderApproved,
    orders.OrderRejected,
)
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
    for decision in DECISION_EVENTS:
        handlers[decision.event_type] = recorder.record_event
    for listing_event in LISTING_EVENTS:
        handlers[listing_event.event_type] = _listing
    return handlers
