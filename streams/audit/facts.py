"""Small tables of facts other events lack: a grant's publisher, a listing's theme and provinces.

Within one transaction every fact looked up is kept (found or missing, until
an event of the same batch supplies it), so a batch of events about one
grant or listing asks the database once, not once per event (the session's
identity map holds rows only weakly). The first grant (or listing) missing
is looked up together with those of the whole batch, in one query. New and changed facts are
written when the session next flushes (autoflush, or the batch's commit).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, col, select

from services.contracts.access import GrantIssued
from services.contracts.catalog import ListingSnapshot
from streams.audit.batches import batch_values
from streams.audit.tables import GrantFactsRow, ListingFactsRow

_KNOWN = "audit_facts_known"
Fact = TypeVar("Fact", bound=SQLModel)


def _known(session: Session) -> dict[tuple[type[Any], str], Any]:
    """The facts this transaction has looked up, None where missing (fresh per transaction)."""
    current = session.get_transaction()
    held = session.info.get(_KNOWN)
    if held is None or held[0] is not current:
        held = (current, {})
        session.info[_KNOWN] = held
    known: dict[tuple[type[Any], str], Any] = held[1]
    return known


def _fact(session: Session, model: type[Fact], key: str) -> Fact | None:
    known = _known(session)
    if (model, key) not in known:
        if model is GrantFactsRow:
            note_facts(session, grant_ids=[key, *batch_values(session, "grant_id")], listing_ids=[])
        elif model is ListingFactsRow:
            listings = [key, *batch_values(session, "listing_id")]
            note_facts(session, grant_ids=[], listing_ids=listings)
        else:
            known[(model, key)] = session.get(model, key)
    row: Fact | None = known[(model, key)]
    return row


def note_facts(session: Session, *, grant_ids: list[str], listing_ids: list[str]) -> None:
    """Look up these grants and listings with one query each (for the lookups that follow)."""
    known = _known(session)
    grants = [g for g in dict.fromkeys(grant_ids) if (GrantFactsRow, g) not in known]
    if grants:
        statement = select(GrantFactsRow).where(col(GrantFactsRow.grant_id).in_(grants))
        found_grants = {row.grant_id: row for row in session.exec(statement).all()}
        for grant_id in grants:
            known[(GrantFactsRow, grant_id)] = found_grants.get(grant_id)
    listings = [item for item in dict.fromkeys(listing_ids) if (ListingFactsRow, item) not in known]
    if listings:
        statement_l = select(ListingFactsRow).where(col(ListingFactsRow.listing_id).in_(listings))
        found_listings = {row.listing_id: row for row in session.exec(statement_l).all()}
        for listing_id in listings:
            known[(ListingFactsRow, listing_id)] = found_listings.get(listing_id)


def remember_grant(session: Session, grant: GrantIssued) -> None:
    row = _fact(session, GrantFactsRow, grant.grant_id)
    if row is None:
        row = GrantFactsRow(
            grant_id=grant.grant_id,
            listing_id=grant.listing_id,
            buyer_org=grant.buyer_org,
            publisher_org=grant.publisher_org,
            order_id=grant.order_id,
        )
        session.add(row)
        _known(session)[(GrantFactsRow, grant.grant_id)] = row


def remember_listing(session: Session, listing: ListingSnapshot) -> None:
    provinces = ",".join(listing.provinces)
    row = _fact(session, ListingFactsRow, listing.listing_id)
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
    _known(session)[(ListingFactsRow, listing.listing_id)] = row


def publisher_of(session: Session, *, grant_id: str | None, listing_id: str | None) -> str | None:
    """The publishing organisation of a grant or listing, if known."""
    if grant_id:
        grant = _fact(session, GrantFactsRow, grant_id)
        if grant is not None:
            return grant.publisher_org
    if listing_id:
        listing = _fact(session, ListingFactsRow, listing_id)
        if listing is not None:
            return listing.publisher_org
    return None


def listing_dimensions(session: Session, listing_id: str | None) -> tuple[str, list[str]]:
    """(theme, provinces) of a listing; "unknown" where the catalog has not told us yet."""
    listing = _fact(session, ListingFactsRow, listing_id) if listing_id else None
    if listing is None:
        return "unknown", ["unknown"]
    provinces = [p for p in listing.provinces.split(",") if p]
    return listing.theme, provinces or ["unknown"]
