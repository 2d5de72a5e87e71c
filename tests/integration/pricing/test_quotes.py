"""Buyers get signed, itemised quotes; bad requests are refused with nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.common.db import transaction
from services.common.signed_json import (
    SignatureInvalid,
    SignedJsonVerifier,
    load_ed25519_public_key,
)
from services.contracts.catalog import ListingPublished, ListingSnapshot
from services.contracts.pricing import QuoteIssued
from services.pricing.consumers import listing_handler
from services.pricing.domain import QuoteSignatureInvalid, SignedQuote, verify_quote
from tests.integration.pricing.conftest import (
    Headers,
    context,
    quote_events,
    snapshot,
    stored_counts,
    verify_organisation,
    wrap,
)


def seed(client: TestClient, listing: ListingSnapshot) -> str:
    """Apply a catalog event through pricing's own handler (without waiting on Kafka)."""
    event = ListingPublished(listing=listing)
    with transaction(context(client).engine) as session:
        listing_handler(context(client))(session, wrap(event), event)
    return listing.listing_id


@pytest.fixture(scope="module")
def listing_id(pricing: TestClient) -> str:
    """A listing with a sensitive column, and two organisations an operator verified."""
    verify_organisation(pricing, "startup-a", "startup")
    verify_organisation(pricing, "vien-nghien-cuu", "public_interest")
    return seed(pricing, snapshot())


def ask(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    """POST /v1/quotes; the purpose defaults to research."""
    return client.post("/v1/quotes", json={"purpose": "research", **body}, headers=headers)


def test_a_quote_is_signed_and_verifies_with_the_published_key(
    pricing: TestClient, auth: Headers, listing_id: str
) -> None:
    response = ask(
        pricing,
        auth("startup-a", segment="startup"),
        listing_id=listing_id,
        product="download",
        duration_days=90,
        purpose="research",
        justification="Nghiên cứu dịch tễ",
    )
    assert response.status_code == 201, response.text
    quote = response.json()
    assert quote["buyer_org"] == "startup-a"
    assert quote["segment"] == "startup"
    assert (quote["purpose"], quote["justification"]) == ("research", "Nghiên cứu dịch tễ")
    assert any(line["code"] == "discount.segment" for line in quote["lines"])
    additive = {"base", "multiplier", "fee", "discount", "tax"}
    assert (
        sum(line["amount"] for line in quote["lines"] if line["kind"] in additive)
        == (quote["total"])
    )

    key = pricing.get("/v1/quotes/public-key").json()
    assert key["key_id"] == quote["key_id"]
    SignedJsonVerifier(key["pem"].encode()).verify(quote)
    public_key = load_ed25519_public_key(key["pem"].encode())
    verify_quote(SignedQuote.model_validate(quote), public_key)

    [event] = quote_events(pricing, quote["id"])
    issued = QuoteIssued.model_validate(event)
    assert (issued.total, issued.buyer_org, issued.policy_version) == (
        quote["total"],
        "startup-a",
        quote["policy_version"],
    )
    assert (issued.purpose, issued.justification) == ("research", "Nghiên cứu dịch tễ")


def test_a_tampered_quote_fails_verification(
    pricing: TestClient, auth: Headers, listing_id: str
) -> None:
    quote = ask(
        pricing, auth("startup-a"), listing_id=listing_id, product="sandbox", duration_days=30
    ).json()
    key = pricing.get("/v1/quotes/public-key").json()
    cheaper = {**quote, "total": quote["total"] - 1000}
    with pytest.raises(SignatureInvalid):
        SignedJsonVerifier(key["pem"].encode()).verify(cheaper)
    other_buyer = SignedQuote.model_validate({**quote, "buyer_org": "someone-else"})
    with pytest.raises(QuoteSignatureInvalid):
        verify_quote(other_buyer, load_ed25519_public_key(key["pem"].encode()))


def test_a_quote_is_visible_to_its_own_organisation_only(
    pricing: TestClient, auth: Headers, listing_id: str
) -> None:
    quote = ask(
        pricing, auth("startup-a"), listing_id=listing_id, product="download", duration_days=7
    ).json()
    path = f"/v1/quotes/{quote['id']}"

    own = pricing.get(path, headers=auth("startup-a"))
    assert own.status_code == 200 and own.json() == quote
    assert pricing.get(path, headers=auth("startup-b")).status_code == 404
    assert pricing.get(path, headers=auth("startup-a", "provider")).status_code == 403
    assert pricing.get(path, headers=auth("vndx-operator", "operator")).json() == quote
    assert pricing.get(path).status_code == 401
    assert pricing.get("/v1/quotes/not-a-uuid", headers=auth("startup-a")).status_code == 404


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"listing_id": "no-such-listing"}, 404, "listing_id"),
        ({"version": 9}, 404, "version"),
        ({"product": "api"}, 422, "product"),
        ({"duration_days": 45}, 422, "duration_days"),
        ({"duration_days": 0}, 422, "duration_days"),
        ({"extra": 1}, 422, "extra"),
        ({"purpose": None}, 422, "purpose"),
        ({"purpose": "espionage"}, 422, "purpose"),
        ({"justification": "x" * 2001}, 422, "justification"),
    ],
)
def test_bad_requests_are_refused_naming_the_field_with_nothing_stored(
    pricing: TestClient,
    auth: Headers,
    listing_id: str,
    change: dict[str, Any],
    status: int,
    field: str,
) -> None:
    before = stored_counts(pricing)
    body = {
        "listing_id": listing_id,
        "product": "download",
        "duration_days": 30,
        "purpose": "research",
        **change,
    }
    response = pricing.post("/v1/quotes", json=body, headers=auth("startup-a"))
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field
    assert stored_counts(pricing) == before


def test_refusals_for_the_product_the_listing_does_not_offer_and_the_justification(
    pricing: TestClient, auth: Headers
) -> None:
    download_only = seed(pricing, snapshot(products=("download",), sensitive=False))
    before = stored_counts(pricing)
    sandbox = ask(
        pricing, auth("startup-a"), listing_id=download_only, product="sandbox", duration_days=30
    )
    assert sandbox.status_code == 422 and sandbox.json()["error"]["field"] == "product"
    waiver = ask(
        pricing,
        auth("vien-nghien-cuu", segment="public_interest"),
        listing_id=download_only,
        product="download",
        duration_days=30,
    )
    assert waiver.status_code == 422 and waiver.json()["error"]["field"] == "justification"
    unknown = ask(
        pricing,
        auth("startup-a", segment="unicorn"),
        listing_id=download_only,
        product="download",
        duration_days=30,
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "segment"
    assert stored_counts(pricing) == before


def test_a_missing_purpose_is_refused(pricing: TestClient, auth: Headers, listing_id: str) -> None:
    body = {"listing_id": listing_id, "product": "download", "duration_days": 30}
    response = pricing.post("/v1/quotes", json=body, headers=auth("startup-a"))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "purpose"


def test_a_purpose_the_listing_does_not_allow_is_refused_naming_it(
    pricing: TestClient, auth: Headers
) -> None:
    statistics_only = seed(pricing, snapshot(allowed_purposes=("statistics", "education")))
    before = stored_counts(pricing)
    refused = ask(
        pricing,
        auth("startup-a"),
        listing_id=statistics_only,
        product="download",
        duration_days=30,
        purpose="commercial_analytics",
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["field"] == "purpose"
    assert "commercial_analytics" in error["message"]
    assert "statistics, education" in error["message"]
    assert stored_counts(pricing) == before
    allowed = ask(
        pricing,
        auth("startup-a"),
        listing_id=statistics_only,
        product="download",
        duration_days=30,
        purpose="statistics",
    )
    assert allowed.status_code == 201 and allowed.json()["purpose"] == "statistics"


def test_an_unverified_organisation_cannot_quote_a_listing_with_sensitive_columns(
    pricing: TestClient, auth: Headers, listing_id: str
) -> None:
    before = stored_counts(pricing)
    refused = ask(
        pricing,
        auth("startup-unverified", segment="startup"),
        listing_id=listing_id,
        product="download",
        duration_days=30,
    )
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "organisation_not_verified"
    assert "sensitive" in error["message"] and "verified" in error["message"]
    assert stored_counts(pricing) == before


def test_a_segment_counts_only_once_the_organisation_is_verified_in_it(
    pricing: TestClient, auth: Headers
) -> None:
    plain = seed(pricing, snapshot(sensitive=False))
    body = {"listing_id": plain, "product": "download", "duration_days": 30}
    claimed = ask(pricing, auth("startup-later", segment="startup"), **body)
    assert claimed.status_code == 201, claimed.text
    quote = claimed.json()
    assert quote["segment"] == "standard"
    assert not [line for line in quote["lines"] if line["code"] == "discount.segment"]
    [why] = [step for step in quote["trace"] if step["rule"] == "incentives.segments.verification"]
    assert why["inputs"] == {"declared": "startup", "verified": "false"}
    assert "not verified" in why["output"]

    verify_organisation(pricing, "startup-later", "startup")
    verified = ask(pricing, auth("startup-later", segment="startup"), **body).json()
    assert verified["segment"] == "startup"
    assert [line["code"] for line in verified["lines"]].count("discount.segment") == 1
    assert verified["total"] < quote["total"]
    assert not [s for s in verified["trace"] if s["rule"] == "incentives.segments.verification"]


def test_the_public_interest_waiver_needs_a_verified_organisation(
    pricing: TestClient, auth: Headers, listing_id: str
) -> None:
    plain = seed(pricing, snapshot(sensitive=False))
    body = {
        "listing_id": plain,
        "product": "download",
        "duration_days": 30,
        "purpose": "public_service",
        "justification": "policy research under a ministry mandate",
    }
    claimed = ask(pricing, auth("hoi-tu-thien", segment="public_interest"), **body).json()
    assert claimed["total"] > 0 and claimed["segment"] == "standard"
    waived = ask(pricing, auth("vien-nghien-cuu"), **body).json()
    assert waived["segment"] == "public_interest"
    assert waived["total"] == 0
    assert [line["code"] for line in waived["lines"]].count("waiver") == 1


def test_only_buyers_ask_for_quotes(pricing: TestClient, auth: Headers, listing_id: str) -> None:
    body = {
        "listing_id": listing_id,
        "product": "download",
        "duration_days": 30,
        "purpose": "research",
    }
    assert pricing.post("/v1/quotes", json=body).status_code == 401
    refused = pricing.post("/v1/quotes", json=body, headers=auth("so-y-te", "provider"))
    assert refused.status_code == 403


@pytest.fixture
def clock(pricing: TestClient) -> Iterator[list[datetime]]:
    """The app's clock, moved by the test (restored after it)."""
    ctx = context(pricing)
    now = [datetime.now(UTC)]
    original = ctx.clock
    ctx.clock = lambda: now[0]
    yield now
    ctx.clock = original


def test_a_later_policy_changes_new_quotes_but_not_old_ones(
    pricing: TestClient, auth: Headers, listing_id: str, clock: list[datetime]
) -> None:
    body = {"listing_id": listing_id, "product": "download", "duration_days": 30}
    old = ask(pricing, auth("startup-a"), **body).json()

    text = pricing.get("/v1/policies/active").json()["yaml"]
    raised = text.replace('version: "2025.1"', 'version: "2026.test"').replace(
        "per_column: 150000", "per_column: 300000"
    )
    takes_effect = clock[0] + timedelta(hours=1)
    activated = pricing.post(
        "/v1/policies",
        json={"policy_yaml": raised, "effective_from": takes_effect.isoformat()},
        headers=auth("vndx-operator", "operator"),
    )
    assert activated.status_code == 201, activated.text

    before_effect = ask(pricing, auth("startup-a"), **body).json()
    assert before_effect["policy_version"] == old["policy_version"]
    assert before_effect["total"] == old["total"]

    clock[0] = takes_effect + timedelta(minutes=1)
    after = ask(pricing, auth("startup-a"), **body).json()
    assert after["policy_version"] == "2026.test"
    assert after["total"] > old["total"]

    again = pricing.get(f"/v1/quotes/{old['id']}", headers=auth("startup-a")).json()
    assert again == old
