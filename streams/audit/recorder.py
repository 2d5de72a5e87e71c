"""The ledger agent: every access event, payment, refund and decision becomes one ledger record.

The record carries the event's payload unchanged as `data`; the buyer's
organisation is the record's `org`, and the publisher's is kept beside it
(from the event, or from what earlier events said about the grant or
listing) so that each party can be shown its own entries. A listing's
inspection and review belong to its publisher (`org`); an organisation's
verification to the organisation verified (`code`, as the record's `org`).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from services.contracts.access import GrantIssued
from services.contracts.catalog import ListingInspected, ListingReviewed, OrganisationVerified
from services.contracts.envelope import Envelope, EventPayload
from streams.audit.facts import publisher_of, remember_grant
from streams.audit.ledger_store import AuditEntry, append_entry


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) else None


def _parties(payload: EventPayload, data: dict[str, Any]) -> tuple[str | None, str | None]:
    """(buyer, publisher) named by the event itself."""
    if isinstance(payload, ListingInspected | ListingReviewed):
        return None, payload.org
    if isinstance(payload, OrganisationVerified):
        return payload.code, None
    return _text(data, "buyer_org"), _text(data, "publisher_org")


def entry_for(session: Session, envelope: Envelope, payload: EventPayload) -> AuditEntry:
    data = payload.model_dump(mode="json")
    grant_id = _text(data, "grant_id")
    listing_id = _text(data, "listing_id")
    buyer, named_publisher = _parties(payload, data)
    publisher = named_publisher or publisher_of(session, grant_id=grant_id, listing_id=listing_id)
    return AuditEntry(
        event_id=envelope.id,
        event_type=envelope.type,
        occurred_at=envelope.time,
        buyer_org=buyer,
        publisher_org=publisher,
        listing_id=listing_id,
        grant_id=grant_id,
        order_id=_text(data, "order_id"),
        data=data,
    )


def record_event(session: Session, envelope: Envelope, payload: EventPayload) -> None:
    """Append `envelope` to the ledger (a no-op if its id is already there)."""
    if isinstance(payload, GrantIssued):
        remember_grant(session, payload)
    append_entry(session, entry_for(session, envelope, payload))
