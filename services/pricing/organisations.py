"""Verified organisations: the segment a buyer's discounts rest on comes from the catalog.

The catalog's operator verifies an organisation (`OrganisationVerified` on
``catalog.organisations``); pricing keeps the newest verification of each organisation.
A segment claimed only by a token counts for nothing.
"""

from __future__ import annotations

from datetime import UTC

from sqlmodel import Session

from services.contracts.catalog import OrganisationVerified
from services.pricing.adapters.orm import VerifiedOrganisationRow, aware


def remember_verification(session: Session, event: OrganisationVerified) -> bool:
    """Store a verification unless a newer one is already stored; return whether stored."""
    at = event.verified_at.astimezone(UTC)
    row = session.get(VerifiedOrganisationRow, event.code)
    if row is not None and aware(row.verified_at) > at:
        return False
    row = row or VerifiedOrganisationRow(
        code=event.code,
        registered_name=event.registered_name,
        segment=event.segment,
        verified_by=event.verified_by,
        verified_at=at,
    )
    row.registered_name = event.registered_name
    row.segment = event.segment
    row.verified_by = event.verified_by
    row.verified_at = at
    session.add(row)
    return True


def verified_segment(session: Session, org: str) -> str | None:
    """The segment the organisation is verified in, or None if it is not verified."""
    row = session.get(VerifiedOrganisationRow, org)
    return None if row is None else row.segment
