"""Pricing learns listings from catalog.listings and values each version exactly once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from services.common.db import transaction
from services.common.inbox import InboxRow
from services.contracts.catalog import (
    ListingPublished,
    ListingRetired,
    ListingUpdated,
    ListingVersionAdded,
    OrganisationVerified,
)
from services.contracts.envelope import Envelope
from services.pricing import listings
from services.pricing.adapters.orm import VerifiedOrganisationRow, aware
from services.pricing.domain import load_default_policy
from tests.integration.pricing.conftest import (
    Headers,
    context,
    publish,
    snapshot,
    valuations,
    wait_for,
    wrap,
)


def _theme(client: TestClient, listing_id: str) -> str | None:
    with transaction(context(client).engine) as session:
        row = listings.find_listing(session, listing_id)
        return row.theme if row else None


def test_a_published_listing_is_valued_once_even_when_delivered_twice(
    pricing: TestClient,
) -> None:
    settings = pricing.app.state.settings  # type: ignore[attr-defined]
    published = snapshot()
    event = wrap(ListingPublished(listing=published))
    # The same event twice, then another event of the same listing (same partition, so it
    # is applied after both copies) carrying the same version with a changed theme.
    later = published.model_copy(update={"theme": "finance"})
    publish(
        settings,
        event,
        event,
        wrap(ListingUpdated(listing=later), at=datetime.now(UTC) + timedelta(seconds=1)),
    )

    wait_for(lambda: _theme(pricing, published.listing_id) == "finance")
    rows = valuations(pricing, published.listing_id)
    assert [(r.version, r.policy_version) for r in rows] == [(1, load_default_policy().version)]
    assert rows[0].dataset_value > 0
    assert rows[0].reference_product == "download"
    assert rows[0].reference_duration_days == 30
    assert rows[0].reference_total >= rows[0].dataset_value


def test_a_new_version_is_valued_and_quotes_default_to_it(
    pricing: TestClient, auth: Headers
) -> None:
    settings = pricing.app.state.settings  # type: ignore[attr-defined]
    first = snapshot(row_count=10_000, sensitive=False)
    second = snapshot(first.listing_id, version=2, row_count=900_000, sensitive=False)
    publish(
        settings,
        wrap(ListingPublished(listing=first)),
        wrap(ListingVersionAdded(listing=second), at=datetime.now(UTC) + timedelta(seconds=1)),
    )

    rows = wait_for(lambda: len(valuations(pricing, first.listing_id)) == 2 or None)
    assert rows
    by_version = {r.version: r for r in valuations(pricing, first.listing_id)}
    assert by_version[2].dataset_value > by_version[1].dataset_value

    body = {
        "listing_id": first.listing_id,
        "product": "download",
        "duration_days": 30,
        "purpose": "research",
    }
    latest = pricing.post("/v1/quotes", json=body, headers=auth("startup-a"))
    older = pricing.post("/v1/quotes", json={**body, "version": 1}, headers=auth("startup-a"))
    assert latest.status_code == older.status_code == 201, latest.text
    assert latest.json()["listing_version"] == 2
    assert older.json()["listing_version"] == 1
    assert latest.json()["total"] > older.json()["total"]

    shown = pricing.get(f"/v1/listings/{first.listing_id}/valuations")
    assert shown.status_code == 200
    assert [v["version"] for v in shown.json()] == [1, 2]
    assert shown.json()[0]["lines"][0]["code"] == "rows"


def test_a_retired_listing_takes_no_new_quotes(pricing: TestClient, auth: Headers) -> None:
    settings = pricing.app.state.settings  # type: ignore[attr-defined]
    live = snapshot()
    publish(
        settings,
        wrap(ListingPublished(listing=live)),
        wrap(
            ListingRetired(listing=live.model_copy(update={"status": "retired"})),
            at=datetime.now(UTC) + timedelta(seconds=1),
        ),
    )

    def retired() -> bool:
        with transaction(context(pricing).engine) as session:
            row = listings.find_listing(session, live.listing_id)
            return row is not None and row.status == "retired"

    wait_for(retired)
    response = pricing.post(
        "/v1/quotes",
        json={
            "listing_id": live.listing_id,
            "product": "download",
            "duration_days": 30,
            "purpose": "research",
        },
        headers=auth("startup-a"),
    )
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "listing_id"
    assert "retired" in response.json()["error"]["message"]


def test_a_draft_listing_is_unknown_to_buyers(pricing: TestClient, auth: Headers) -> None:
    settings = pricing.app.state.settings  # type: ignore[attr-defined]
    draft = snapshot(status="draft")
    publish(settings, wrap(ListingVersionAdded(listing=draft)))

    wait_for(lambda: valuations(pricing, draft.listing_id))
    response = pricing.post(
        "/v1/quotes",
        json={
            "listing_id": draft.listing_id,
            "product": "download",
            "duration_days": 30,
            "purpose": "research",
        },
        headers=auth("startup-a"),
    )
    assert response.status_code == 404
    assert pricing.get(f"/v1/listings/{draft.listing_id}/valuations").status_code == 404
    own = pricing.get(
        f"/v1/listings/{draft.listing_id}/valuations", headers=auth(draft.org, "provider")
    )
    assert own.status_code == 200 and len(own.json()) == 1


def test_verifications_are_applied_once_and_an_older_one_never_overrides_a_newer(
    pricing: TestClient,
) -> None:
    settings = pricing.app.state.settings  # type: ignore[attr-defined]
    org = f"cong-ty-{uuid.uuid4().hex[:6]}"
    earlier = datetime.now(UTC) - timedelta(days=1)

    def verified(segment: str, at: datetime) -> Envelope:
        return wrap(
            OrganisationVerified(
                code=org,
                registered_name="Công ty TNHH Phân tích",
                segment=segment,  # type: ignore[arg-type]
                verified_by="vndx-operator",
                verified_at=at,
            )
        )

    as_sme, as_startup = verified("sme", earlier), verified("startup", datetime.now(UTC))
    # The newer verification, then a late delivery of an older one, twice.
    publish(settings, as_startup, as_sme, as_sme)

    def older_one_processed() -> bool:
        with transaction(context(pricing).engine) as session:
            statement = select(InboxRow).where(InboxRow.event_id == as_sme.id)
            return session.exec(statement).first() is not None

    wait_for(older_one_processed)
    with transaction(context(pricing).engine) as session:
        row = session.get(VerifiedOrganisationRow, org)
        assert row is not None
        assert (row.segment, aware(row.verified_at)) == (
            "startup",
            as_startup.payload().verified_at,
        )
