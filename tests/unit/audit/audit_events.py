"""Builders of the events the audit worker consumes, with fixed ids and times."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.contracts._base import RevenueSplit
from services.contracts.access import (
    GrantDownloadUrlIssued,
    GrantIssued,
    GrantQueried,
    GrantRevoked,
    PrivacyFigures,
)
from services.contracts.catalog import ListingPublished, ListingSnapshot
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.orders import OrderPaid, OrderRefunded

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PUBLISHER = "so-tnmt-da-nang"
BUYER = "startup-a"
OTHER_BUYER = "startup-b"


def wrap(payload: EventPayload, at: datetime = T0) -> Envelope:
    return Envelope.wrap(payload, source="/vndx/test", time=at)


def ids(label: str) -> tuple[str, str, str]:
    """(listing, order, grant) ids derived from a label."""
    base = uuid.uuid5(uuid.NAMESPACE_URL, label)
    return (
        str(uuid.uuid5(base, "listing")),
        str(uuid.uuid5(base, "order")),
        str(uuid.uuid5(base, "grant")),
    )


def listing_published(
    listing_id: str, *, theme: str = "land", provinces: list[str] | None = None
) -> ListingPublished:
    snapshot = ListingSnapshot.model_validate(
        {
            "listing_id": listing_id,
            "org": PUBLISHER,
            "status": "published",
            "title_vi": "Đất đai",
            "title_en": "Land",
            "theme": theme,
            "provinces": provinces or ["da-nang"],
            "update_frequency": "monthly",
            "products": ["download"],
            "list_price": 1_000_000,
            "columns": [],
            "latest_version": None,
        }
    )
    return ListingPublished(listing=snapshot)


def order_paid(
    listing_id: str, order_id: str, *, buyer: str = BUYER, total: int = 1_100_000, at: datetime = T0
) -> OrderPaid:
    return OrderPaid(
        order_id=order_id,
        buyer_org=buyer,
        listing_id=listing_id,
        quote_id=str(uuid.uuid4()),
        publisher_org=PUBLISHER,
        listing_version=1,
        product="download",
        duration_days=30,
        total=total,
        currency="VND",
        split=RevenueSplit(
            platform_fee=100_000, agency_share=600_000, budget_share=300_000, vat=100_000
        ),
        payment_provider="local",
        paid_at=at,
    )


def order_refunded(
    listing_id: str, order_id: str, *, buyer: str = BUYER, amount: int = 1_100_000
) -> OrderRefunded:
    return OrderRefunded(
        order_id=order_id,
        buyer_org=buyer,
        listing_id=listing_id,
        amount=amount,
        reason="grant failed",
    )


def grant_issued(
    listing_id: str, order_id: str, grant_id: str, *, buyer: str = BUYER, at: datetime = T0
) -> GrantIssued:
    return GrantIssued(
        grant_id=grant_id,
        buyer_org=buyer,
        listing_id=listing_id,
        order_id=order_id,
        publisher_org=PUBLISHER,
        listing_version=1,
        product="download",
        issued_at=at,
        expires_at=at + timedelta(days=30),
        privacy=PrivacyFigures(k=5, l_diversity=2, suppression_share=0.01, information_loss=0.25),
        rows=1000,
        objects=[f"sandbox/{grant_id}/extract.parquet"],
    )


def download_url(
    listing_id: str, grant_id: str, *, buyer: str = BUYER, client: str | None = None
) -> GrantDownloadUrlIssued:
    return GrantDownloadUrlIssued(
        grant_id=grant_id,
        buyer_org=buyer,
        listing_id=listing_id,
        format="parquet",
        url_expires_at=T0 + timedelta(minutes=15),
        client=client,
    )


def queried(
    listing_id: str, grant_id: str, *, buyer: str = BUYER, refused: bool = False
) -> GrantQueried:
    return GrantQueried(
        grant_id=grant_id,
        buyer_org=buyer,
        listing_id=listing_id,
        sql_sha256="ab" * 32,
        rows_returned=0 if refused else 12,
        refused=refused,
        reason="not an aggregate" if refused else None,
    )


def revoked(listing_id: str, grant_id: str, *, buyer: str = BUYER) -> GrantRevoked:
    return GrantRevoked(
        grant_id=grant_id,
        buyer_org=buyer,
        listing_id=listing_id,
        by_org="regulator-x",
        by_role="regulator",
        reason="misuse",
    )


def access_sequence(label: str, *, buyer: str = BUYER) -> list[EventPayload]:
    """Issued, download URL, query, revoked: the end-to-end sequence of the issue."""
    listing, order, grant = ids(label)
    return [
        grant_issued(listing, order, grant, buyer=buyer),
        download_url(listing, grant, buyer=buyer),
        queried(listing, grant, buyer=buyer),
        revoked(listing, grant, buyer=buyer),
    ]
