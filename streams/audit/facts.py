"""Small tables of facts other events lack: a grant's publisher, a listing's theme and provinces."""

from __future__ import annotations

from sqlmodel import Session

from services.contracts.access import GrantIssued
from services.contracts.catalog import ListingSnapshot
from streams.audit.tables import GrantFactsRow, ListingFactsRow


def remember_grant(session: Session, grant: GrantIssued) -> None:
    row = session.get(GrantFactsRow, grant.grant_id)
    if row is None:
        session.add(
            GrantFactsRow(
                grant_id=grant.grant_id,
                listing_id=grant.listing_id,
                buyer_org=grant.buyer_org,
                publisher_org=grant.publisher_org,
                order_id=grant.order_id,
            )
        )
    session.flush()


def remember_listing(session: Session, listing: ListingSnapshot) -> None:
    provinces = ",".join(listing.provinces)
    row = session.get(ListingFactsRow, listing.listing_id)
    if row is None:
        row = ListingFactsRow(
            listing_id=listing.listing_id,
            publisher_org=listing.org,
            theme=listing.theme,
            provinces=provinces,
        )
    else:
        row.publisher_org, row.theme, row.provinces = listing.org, listing.theme, provinces
    session.add(row)
    session.flush()


def publisher_of(session: Session, *, grant_id: str | None, listing_id: str | None) -> str | None:
    """The publishing organisation of a grant or listing, if known."""
    if grant_id:
        grant = session.get(GrantFactsRow, grant_id)
        if grant is not None:
            return grant.publisher_org
    if listing_id:
        listing = session.get(ListingFactsRow, listing_id)
        if listing is not None:
            return listing.publisher_org
    return None


def listing_dimensions(session: Session, listing_id: str | None) -> tuple[str, list[str]]:
    """(theme, provinces) of a listing; "unknown" where the catalog has not told us yet."""
    listing = session.get(ListingFactsRow, listing_id) if listing_id else None
    if listing is None:
        return "unknown", ["unknown"]
    provinces = [p for p in listing.provinces.split(",") if p]
    return listing.theme, provinces or ["unknown"]
