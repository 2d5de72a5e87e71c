"""What pricing knows of catalog listings: their latest snapshot and each version's facts.

Listing-level facts (status, theme, provinces, frequency, list price, products) follow
the newest snapshot; a version's measured facts (rows, column mix, quality, when it was
created) are kept as first seen, since a version never changes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from services.contracts.catalog import ALL_PURPOSES, ListingSnapshot
from services.pricing.adapters.orm import (
    KnownListingRow,
    ListingTermsRow,
    ListingVersionRow,
    aware,
)
from services.pricing.domain import ClassificationCounts, DatasetFacts


def remember_snapshot(session: Session, snapshot: ListingSnapshot, at: datetime) -> bool:
    """Record a snapshot taken at ``at``; return whether it carried a version new to us.

    An older snapshot than the one stored (a late redelivery) leaves the listing as it is
    but still contributes a version it may carry.
    """
    at = at.astimezone(UTC)
    row = session.get(KnownListingRow, snapshot.listing_id)
    if row is None or aware(row.snapshot_at) <= at:
        row = row or KnownListingRow(
            listing_id=snapshot.listing_id,
            org=snapshot.org,
            status=snapshot.status,
            theme=snapshot.theme,
            update_frequency=snapshot.update_frequency,
            snapshot_at=at,
        )
        row.org = snapshot.org
        row.status = snapshot.status
        row.theme = snapshot.theme
        row.provinces = json.dumps(snapshot.provinces)
        row.update_frequency = snapshot.update_frequency
        row.list_price = snapshot.list_price
        row.products = json.dumps(list(snapshot.products))
        row.snapshot_at = at
        session.add(row)
        _remember_terms(session, snapshot, at)
    latest = snapshot.latest_version
    if latest is None:
        return False
    if session.get(ListingVersionRow, (snapshot.listing_id, latest.version)) is not None:
        return False
    counts = {kind: 0 for kind in ClassificationCounts.model_fields}
    for column in snapshot.columns:
        counts[column.classification] += 1
    session.add(
        ListingVersionRow(
            listing_id=snapshot.listing_id,
            version=latest.version,
            row_count=latest.row_count,
            quality_score=str(Decimal(str(latest.quality_score))),
            created_at=latest.created_at.astimezone(UTC),
            **counts,
        )
    )
    session.flush()
    return True


def _remember_terms(session: Session, snapshot: ListingSnapshot, at: datetime) -> None:
    terms = session.get(ListingTermsRow, snapshot.listing_id)
    if terms is not None and aware(terms.snapshot_at) > at:
        return
    terms = terms or ListingTermsRow(listing_id=snapshot.listing_id, snapshot_at=at)
    terms.allowed_purposes = json.dumps(list(snapshot.allowed_purposes))
    terms.snapshot_at = at
    session.add(terms)


def allowed_purposes(session: Session, listing_id: str) -> tuple[str, ...]:
    """The purposes a listing allows; every purpose if its snapshot predates the field."""
    terms = session.get(ListingTermsRow, listing_id)
    if terms is None:
        return tuple(ALL_PURPOSES)
    return tuple(json.loads(terms.allowed_purposes))


def find_listing(session: Session, listing_id: str) -> KnownListingRow | None:
    return session.get(KnownListingRow, listing_id)


def find_version(
    session: Session, listing_id: str, version: int | None
) -> ListingVersionRow | None:
    """The given version of a listing, or its latest one when ``version`` is None."""
    if version is not None:
        return session.get(ListingVersionRow, (listing_id, version))
    statement = (
        select(ListingVersionRow)
        .where(ListingVersionRow.listing_id == listing_id)
        .order_by(col(ListingVersionRow.version).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def dataset_facts(listing: KnownListingRow, version: ListingVersionRow) -> DatasetFacts:
    """The domain's facts of one version; raises pydantic's ValidationError if unusable."""
    counts = ClassificationCounts(
        direct_identifier=version.direct_identifier,
        quasi_identifier=version.quasi_identifier,
        sensitive=version.sensitive,
        attribute=version.attribute,
    )
    return DatasetFacts.model_validate(
        {
            "listing_id": listing.listing_id,
            "version": version.version,
            "org": listing.org,
            "theme": listing.theme,
            "provinces": tuple(json.loads(listing.provinces)),
            "row_count": version.row_count,
            "column_count": counts.total,
            "classification": counts,
            "quality_score": Decimal(version.quality_score),
            "update_frequency": listing.update_frequency,
            "last_updated": aware(version.created_at),
            "list_price": listing.list_price,
            "offered_products": tuple(json.loads(listing.products)),
        }
    )
