"""Use cases of quotes: price a listing version for a buyer, sign, store, announce; read.

The quote path reads nothing from the database in the common case: the listing's facts
and terms, the buyer organisation's verification and the policy timeline come from
`ctx.lookups` (a memo of one second, forgotten at once by this process's own changes),
the price from the issuer's memo. The quote row and its `QuoteIssued` outbox row are
committed by the group-commit writer (`quote_writer`), together with the quotes of
concurrent requests; a request answers once its batch has committed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from services.common.auth import Principal
from services.common.observability import current_traceparent
from services.contracts.catalog import ALL_PURPOSES
from services.contracts.envelope import Envelope
from services.contracts.pricing import QuoteIssued
from services.pricing import listings, organisations, policy_book
from services.pricing.adapters.orm import PolicyVersionRow, QuoteRow, aware
from services.pricing.context import SOURCE, PricingContext
from services.pricing.domain import (
    BuyerProfile,
    DatasetFacts,
    DurationNotOffered,
    IssuedQuote,
    JustificationRequired,
    Policy,
    PricingError,
    ProductNotOffered,
    Segment,
)
from services.pricing.errors import Refused
from services.pricing.quote_writer import QuoteRows

MAX_JUSTIFICATION_CHARS = 2000


@dataclass(frozen=True)
class QuoteRequest:
    """What a buyer asks a price for, and why (`purpose`: one of the catalog's codes)."""

    listing_id: str
    product: str
    duration_days: int
    purpose: str
    version: int | None = None
    justification: str | None = None


@dataclass(frozen=True)
class _Listing:
    """What the quote path needs of one listing version."""

    facts: DatasetFacts
    allowed_purposes: tuple[str, ...]


def buyer_profile(ctx: PricingContext, principal: Principal) -> BuyerProfile:
    """The buyer's organisation and the segment it is verified in (a token claim alone
    counts for nothing, but is kept so that the quote's trace says why)."""
    claimed = Segment.STANDARD
    if principal.segment is not None:
        try:
            claimed = Segment(principal.segment)
        except ValueError as error:
            raise Refused(
                422,
                "invalid_request",
                f"the token's segment {principal.segment!r} is not one of "
                f"{', '.join(s.value for s in Segment)}",
                field="segment",
            ) from error
    verified = ctx.lookups.get(
        ("organisation", principal.org), lambda: _read_verification(ctx, principal.org)
    )
    if verified is None:
        return BuyerProfile(org=principal.org, segment=claimed, verified=False)
    return BuyerProfile(org=principal.org, segment=Segment(verified), verified=True)


def _read_verification(ctx: PricingContext, org: str) -> str | None:
    with ctx.session() as session:
        return organisations.verified_segment(session, org)


@dataclass(frozen=True)
class _Refusal:
    """A remembered refusal (a fresh exception is raised from it each time)."""

    status: int
    code: str
    message: str
    field: str

    def exception(self) -> Refused:
        return Refused(self.status, self.code, self.message, field=self.field)


def _load_listing(ctx: PricingContext, listing_id: str, version: int | None) -> _Listing | _Refusal:
    with ctx.session() as session:
        listing = listings.find_listing(session, listing_id)
        if listing is None or listing.status == "draft":
            return _Refusal(404, "not_found", f"listing {listing_id} not found", "listing_id")
        if listing.status == "retired":
            return _Refusal(
                409,
                "listing_retired",
                f"listing {listing_id} is retired; it takes no new quotes",
                "listing_id",
            )
        row = listings.find_version(session, listing_id, version)
        allowed = listings.allowed_purposes(session, listing_id)
    if row is None:
        return _Refusal(
            404, "not_found", f"listing {listing_id} has no version {version}", "version"
        )
    try:
        facts = listings.dataset_facts(listing, row)
    except ValidationError as error:
        return _Refusal(
            409,
            "listing_unpriceable",
            f"listing {listing_id} cannot be priced: {error.errors()[0]['msg']}",
            "listing_id",
        )
    return _Listing(facts, allowed)


def _listing(ctx: PricingContext, request: QuoteRequest) -> _Listing:
    key = ("listing", request.listing_id, request.version)
    found = ctx.lookups.get(key, lambda: _load_listing(ctx, request.listing_id, request.version))
    if isinstance(found, _Refusal):
        raise found.exception()
    return found


def _policy_rows(ctx: PricingContext) -> tuple[PolicyVersionRow, ...]:
    with ctx.session() as session:
        return tuple(policy_book.all_versions(session))


def _policy_in_effect(ctx: PricingContext, now: datetime) -> Policy:
    rows = ctx.lookups.get(("policies",), lambda: _policy_rows(ctx))
    in_effect = [row for row in rows if aware(row.effective_from) <= now]
    if not in_effect:
        raise Refused(503, "no_policy", "no pricing policy is in effect")
    row = max(in_effect, key=lambda r: (aware(r.effective_from), aware(r.activated_at)))
    return ctx.policies.parsed(row)


def _check_purpose(request: QuoteRequest, listing: _Listing) -> None:
    if request.purpose not in ALL_PURPOSES:
        raise Refused(
            422,
            "invalid_purpose",
            f"purpose {request.purpose!r} is not one of {', '.join(ALL_PURPOSES)}",
            field="purpose",
        )
    if request.purpose not in listing.allowed_purposes:
        raise Refused(
            422,
            "purpose_not_allowed",
            f"listing {request.listing_id} does not allow the purpose {request.purpose!r}; "
            f"it allows {', '.join(listing.allowed_purposes) or 'no purpose'}",
            field="purpose",
            allowed_purposes=list(listing.allowed_purposes),
        )
    if request.justification is not None and len(request.justification) > (MAX_JUSTIFICATION_CHARS):
        raise Refused(
            422,
            "invalid_request",
            f"justification is longer than {MAX_JUSTIFICATION_CHARS} characters",
            field="justification",
        )


def _check_verification(request: QuoteRequest, listing: _Listing, buyer: BuyerProfile) -> None:
    sensitive = listing.facts.classification.sensitive
    if sensitive and not buyer.verified:
        raise Refused(
            403,
            "organisation_not_verified",
            f"listing {request.listing_id} has {sensitive} sensitive column(s); organisation "
            f"{buyer.org} must be verified by an operator before it can quote it",
            field="listing_id",
        )


def prepare_quote(
    ctx: PricingContext, principal: Principal, request: QuoteRequest
) -> tuple[IssuedQuote, QuoteRows]:
    """Price and sign a quote; return it with the rows that store and announce it."""
    buyer = buyer_profile(ctx, principal)
    listing = _listing(ctx, request)
    _check_purpose(request, listing)
    _check_verification(request, listing, buyer)
    now = ctx.clock()
    policy = _policy_in_effect(ctx, now)
    try:
        issued = ctx.issuer.issue(
            policy,
            listing.facts,
            request.product,
            request.duration_days,
            buyer,
            now,
            purpose=request.purpose,
            justification=request.justification,
        )
    except ProductNotOffered as error:
        raise Refused(422, "product_not_offered", str(error), field="product") from error
    except DurationNotOffered as error:
        raise Refused(422, "duration_not_offered", str(error), field="duration_days") from error
    except JustificationRequired as error:
        raise Refused(422, "justification_required", str(error), field="justification") from error
    except PricingError as error:
        raise Refused(409, "cannot_price", str(error)) from error
    return issued, _rows(issued)


def _rows(issued: IssuedQuote) -> QuoteRows:
    envelope = Envelope.wrap(
        QuoteIssued(
            quote_id=issued.id,
            listing_id=issued.listing_id,
            listing_version=issued.listing_version,
            buyer_org=issued.buyer_org,
            segment=issued.segment,
            product=issued.product,
            duration_days=issued.duration_days,
            total=issued.total,
            currency=issued.currency,
            policy_version=issued.policy_version,
            expires_at=issued.expires_at,
            purpose=issued.purpose,
            justification=issued.justification,
        ),
        source=SOURCE,
        traceparent=current_traceparent(),
    )
    quote = {
        "id": issued.id,
        "buyer_org": issued.buyer_org,
        "listing_id": issued.listing_id,
        "listing_version": issued.listing_version,
        "policy_version": issued.policy_version,
        "total": issued.total,
        "issued_at": issued.issued_at,
        "expires_at": issued.expires_at,
        "document": issued.document.decode("utf-8"),
    }
    outbox = {
        "event_id": envelope.id,
        "topic": QuoteIssued.topic,
        "key": envelope.subject,
        "event_type": envelope.type,
        "envelope_json": envelope.model_dump_json(),
        "created_at": datetime.now(UTC),
        "published_at": None,
    }
    return QuoteRows(quote=quote, outbox=outbox)


def issue_quote(ctx: PricingContext, principal: Principal, request: QuoteRequest) -> IssuedQuote:
    """Price, sign and store a quote with its QuoteIssued event, committed alone."""
    issued, rows = prepare_quote(ctx, principal, request)
    ctx.writer.write_now(rows)
    return issued


async def issue_quote_batched(
    ctx: PricingContext, principal: Principal, request: QuoteRequest
) -> IssuedQuote:
    """As `issue_quote`, committed together with concurrent requests' quotes."""
    issued, rows = prepare_quote(ctx, principal, request)
    await ctx.writer.write(rows)
    return issued


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
