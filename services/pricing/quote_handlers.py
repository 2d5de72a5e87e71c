"""Use cases of quotes: price a listing version for a buyer, sign, store, announce; read.

Reads and writes are two short transactions with the pricing and signing between them,
so that a quote holds no database lock while it is computed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from services.common.auth import Principal
from services.common.outbox import add_event
from services.contracts.pricing import QuoteIssued
from services.pricing import listings, policy_book
from services.pricing.adapters.orm import QuoteRow
from services.pricing.context import SOURCE, PricingContext
from services.pricing.domain import (
    BuyerProfile,
    DatasetFacts,
    DurationNotOffered,
    JustificationRequired,
    Policy,
    PricingError,
    ProductNotOffered,
    Segment,
    SignedQuote,
    make_quote,
    price,
)
from services.pricing.errors import Refused


@dataclass(frozen=True)
class QuoteRequest:
    """What a buyer asks a price for."""

    listing_id: str
    product: str
    duration_days: int
    version: int | None = None
    purpose: str | None = None
    justification: str | None = None


def buyer_profile(principal: Principal) -> BuyerProfile:
    """The buyer's organisation and segment from the token (a segment claim counts as verified)."""
    if principal.segment is None:
        return BuyerProfile(org=principal.org)
    try:
        segment = Segment(principal.segment)
    except ValueError as error:
        raise Refused(
            422,
            "invalid_request",
            f"the token's segment {principal.segment!r} is not one of "
            f"{', '.join(s.value for s in Segment)}",
            field="segment",
        ) from error
    return BuyerProfile(org=principal.org, segment=segment, verified=True)


def _facts_and_policy(ctx: PricingContext, request: QuoteRequest) -> tuple[DatasetFacts, Policy]:
    now = ctx.clock()
    with ctx.session() as session:
        listing = listings.find_listing(session, request.listing_id)
        if listing is None or listing.status == "draft":
            raise Refused(
                404, "not_found", f"listing {request.listing_id} not found", field="listing_id"
            )
        if listing.status == "retired":
            raise Refused(
                409,
                "listing_retired",
                f"listing {request.listing_id} is retired; it takes no new quotes",
                field="listing_id",
            )
        version = listings.find_version(session, request.listing_id, request.version)
        policy_row = policy_book.in_effect(session, now)
    if version is None:
        raise Refused(
            404,
            "not_found",
            f"listing {request.listing_id} has no version {request.version}",
            field="version",
        )
    if policy_row is None:
        raise Refused(503, "no_policy", "no pricing policy is in effect")
    try:
        facts = listings.dataset_facts(listing, version)
    except ValidationError as error:
        raise Refused(
            409,
            "listing_unpriceable",
            f"listing {request.listing_id} cannot be priced: {error.errors()[0]['msg']}",
            field="listing_id",
        ) from error
    return facts, ctx.policies.parsed(policy_row)


def issue_quote(ctx: PricingContext, principal: Principal, request: QuoteRequest) -> SignedQuote:
    """Price, sign and store a quote, and stage its QuoteIssued event in the same commit."""
    buyer = buyer_profile(principal)
    facts, policy = _facts_and_policy(ctx, request)
    try:
        priced = price(policy, facts, request.product, request.duration_days, buyer, ctx.clock())
        quote = make_quote(priced, purpose=request.purpose, justification=request.justification)
    except ProductNotOffered as error:
        raise Refused(422, "product_not_offered", str(error), field="product") from error
    except DurationNotOffered as error:
        raise Refused(422, "duration_not_offered", str(error), field="duration_days") from error
    except JustificationRequired as error:
        raise Refused(422, "justification_required", str(error), field="justification") from error
    except PricingError as error:
        raise Refused(409, "cannot_price", str(error)) from error
    signed = ctx.quote_key.signer.sign(quote)
    with ctx.session() as session:
        session.add(
            QuoteRow(
                id=str(signed.id),
                buyer_org=signed.buyer_org,
                listing_id=signed.listing_id,
                listing_version=signed.listing_version,
                policy_version=signed.policy_version,
                total=signed.total,
                issued_at=signed.issued_at,
                expires_at=signed.expires_at,
                document=signed.model_dump_json(),
            )
        )
        add_event(
            session,
            QuoteIssued(
                quote_id=str(signed.id),
                listing_id=signed.listing_id,
                listing_version=signed.listing_version,
                buyer_org=signed.buyer_org,
                segment=signed.segment.value,
                product=signed.product.value,
                duration_days=signed.duration_days,
                total=signed.total,
                currency=signed.currency,
                policy_version=signed.policy_version,
                expires_at=signed.expires_at,
                purpose=signed.purpose,
            ),
            source=SOURCE,
        )
    ctx.wake_relay()
    return signed


def quote_document(ctx: PricingContext, principal: Principal, quote_id: str) -> str:
    """The signed quote's JSON, for its buyer's organisation or an operator (404 otherwise)."""
    try:
        key = str(uuid.UUID(quote_id))
    except ValueError:
        key = None
    row = None
    if key is not None:
        with ctx.session() as session:
            row = session.get(QuoteRow, key)
    if row is None or not (principal.is_operator() or row.buyer_org == principal.org):
        raise Refused(404, "not_found", f"quote {quote_id} not found", field="quote_id")
    return row.document


def public_key(ctx: PricingContext) -> dict[str, Any]:
    return {
        "algorithm": "Ed25519",
        "key_id": ctx.quote_key.key_id,
        "pem": ctx.quote_key.public_pem,
    }
