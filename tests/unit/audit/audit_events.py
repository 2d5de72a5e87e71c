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
    GrantTerminated,
    PrivacyFigures,
)
from services.contracts.catalog import (
    ListingInspected,
    ListingPublished,
    ListingReviewed,
    ListingSnapshot,
    OrganisationVerified,
)
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.orders import (
    OrderApproved,
    OrderAwaitingApproval,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
    OrderRejected,
)

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


POLICY_SHA256 = "5e" * 32
AGREEMENT_SHA256 = "a9" * 32


def agreement_sequence(label: str, *, buyer: str = BUYER) -> list[EventPayload]:
    """Every decision of issue 12 for one listing, order and grant, in the order they happen.

    Inspection and review of the listing, the buyer's verification, the order
    placed with the hash of the usage policy it accepted, awaiting approval,
    approved, paid, the grant issued with its agreement's hash, terminated.
    """
    listing, order, grant = ids(label)
    return [
        ListingInspected(
            listing_id=listing,
            org=PUBLISHER,
            version=1,
            passed=True,
            rows_sampled=1000,
            findings=[],
        ),
        ListingReviewed(
            listing_id=listing,
            org=PUBLISHER,
            version=1,
            decision="approve",
            note="sensitive columns generalised",
            by_org="vndx-operator",
        ),
        OrganisationVerified(
            code=buyer,
            registered_name=f"{buyer} JSC",
            segment="startup",
            verified_by="vndx-operator",
            verified_at=T0,
        ),
        OrderPlaced(
            order_id=order,
            buyer_org=buyer,
            listing_id=listing,
            quote_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{label}/quote")),
            publisher_org=PUBLISHER,
            listing_version=1,
            product="download",
            duration_days=30,
            total=1_100_000,
            currency="VND",
            placed_at=T0,
            purpose="research",
            justification="flood risk model",
            policy_sha256=POLICY_SHA256,
            approval="provider",
        ),
        OrderAwaitingApproval(
            order_id=order,
            buyer_org=buyer,
            listing_id=listing,
            publisher_org=PUBLISHER,
            purpose="research",
            justification="flood risk model",
            decide_by=T0 + timedelta(days=7),
        ),
        OrderApproved(
            order_id=order,
            buyer_org=buyer,
            listing_id=listing,
            publisher_org=PUBLISHER,
            by_org=PUBLISHER,
            note="ok for research",
        ),
        order_paid(listing, order, buyer=buyer),
        grant_issued(listing, order, grant, buyer=buyer).model_copy(
            update={"agreement_sha256": AGREEMENT_SHA256, "purpose": "research"}
        ),
        GrantTerminated(
            grant_id=grant,
            buyer_org=buyer,
            listing_id=listing,
            order_id=order,
            publisher_org=PUBLISHER,
            by_org="bo-tt",
            by_role="regulator",
            reason="court order",
            refund="pro_rata",
            remaining_seconds=86_400,
            period_seconds=30 * 86_400,
        ),
    ]


def order_rejected(label: str, *, buyer: str = BUYER) -> OrderRejected:
    listing, order, _ = ids(label)
    return OrderRejected(
        order_id=order,
        buyer_org=buyer,
        listing_id=listing,
        publisher_org=PUBLISHER,
        by_org=None,
        note="no decision before the deadline",
        automatic=True,
    )
