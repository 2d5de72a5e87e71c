"""Routes of the pricing API (``/v1``): policies, quotes, valuations."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from services.common.api import ApiError, optional_principal, require_roles
from services.common.auth import Principal
from services.pricing import policy_handlers, quote_handlers
from services.pricing.api.schemas import PolicyIn, QuoteIn
from services.pricing.context import PricingContext
from services.pricing.errors import Refused
from services.pricing.valuation_handlers import listing_valuations

router = APIRouter(prefix="/v1")

Buyer = Annotated[Principal, Depends(require_roles("buyer"))]
Reader = Annotated[Principal, Depends(require_roles("buyer", "operator"))]
Operator = Annotated[Principal, Depends(require_roles("operator"))]
Viewer = Annotated[Principal | None, Depends(optional_principal)]

T = TypeVar("T")


def _ctx(request: Request) -> PricingContext:
    ctx: PricingContext = request.app.state.pricing
    return ctx


async def _run(func: Callable[..., T], *args: Any) -> T:
    try:
        return await asyncio.to_thread(func, *args)
    except Refused as refused:
        raise ApiError(
            refused.status,
            refused.code,
            refused.message,
            field=refused.field,
            line=refused.line,
            **refused.extra,
        ) from refused


@router.post("/policies", tags=["policies"])
async def activate_policy(body: PolicyIn, request: Request, operator: Operator) -> JSONResponse:
    """Activate a policy version (operator): 201 if new, 200 if this exact text is already active."""
    at = body.effective_from.astimezone(UTC) if body.effective_from else None
    view, created = await _run(
        policy_handlers.activate_policy, _ctx(request), body.policy_yaml, operator.subject, at
    )
    return JSONResponse(view, status_code=201 if created else 200)


@router.get("/policies", tags=["policies"])
async def list_policies(request: Request) -> list[dict[str, Any]]:
    """Every activated version, oldest effective first, and which one is in effect."""
    return await _run(policy_handlers.policy_versions, _ctx(request))


@router.get("/policies/active", tags=["policies"])
async def active_policy(request: Request) -> dict[str, Any]:
    """The version new quotes use now: YAML text and summary."""
    return await _run(policy_handlers.active_policy, _ctx(request))


@router.get("/policies/{version}", tags=["policies"])
async def policy_version(version: str, request: Request) -> dict[str, Any]:
    """Any activated version, current or old: YAML text and summary."""
    return await _run(policy_handlers.policy_version, _ctx(request), version)


@router.post("/quotes", status_code=201, tags=["quotes"])
async def create_quote(body: QuoteIn, request: Request, buyer: Buyer) -> Response:
    """A signed, itemised quote for the buyer's organisation and declared purpose.

    Segment discounts and waivers apply only to an organisation an operator verified in
    that segment (catalog); an unverified organisation cannot quote listings with
    sensitive columns (403); a purpose the listing does not allow is refused (422).
    """
    quote_request = quote_handlers.QuoteRequest(**body.model_dump())
    # Pricing is CPU work of a few hundred microseconds on in-memory data: it runs on the
    # event loop (a thread hop would cost as much); only the commit leaves it.
    try:
        issued = await quote_handlers.issue_quote_batched(_ctx(request), buyer, quote_request)
    except Refused as refused:
        raise ApiError(
            refused.status,
            refused.code,
            refused.message,
            field=refused.field,
            line=refused.line,
            **refused.extra,
        ) from refused
    return Response(issued.document, status_code=201, media_type="application/json")


@router.get("/quotes/public-key", tags=["quotes"])
async def quote_public_key(request: Request) -> dict[str, Any]:
    """The Ed25519 key quotes are signed with (PEM and key id), for anyone to verify."""
    return quote_handlers.public_key(_ctx(request))


@router.get("/quotes/{quote_id}", tags=["quotes"])
async def get_quote(quote_id: str, request: Request, reader: Reader) -> Response:
    """A signed quote, to its buyer's organisation (operators see all)."""
    document = await _run(quote_handlers.quote_document, _ctx(request), reader, quote_id)
    return Response(document, media_type="application/json")


@router.get("/listings/{listing_id}/valuations", tags=["valuations"])
async def valuations(listing_id: str, request: Request, viewer: Viewer) -> list[dict[str, Any]]:
    """How each version of a listing was valued, under which policy version."""
    return await _run(listing_valuations, _ctx(request), viewer, listing_id)
