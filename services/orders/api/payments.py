"""The Stripe webhook: verified, deduplicated, applied once."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from services.common.api import ApiError
from services.orders import handlers
from services.orders.adapters.payments import PaymentProviderError
from services.orders.adapters.stripe_gateway import WebhookRejected, verify_webhook
from services.orders.api.routes import orders_context

router = APIRouter(prefix="/v1/payments")


@router.post("/stripe/webhook", tags=["payments"], include_in_schema=True)
async def stripe_webhook(
    request: Request,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> dict[str, Any]:
    """Stripe's event deliveries; anything not signed with the webhook secret gets 400."""
    secret: str | None = request.app.state.stripe_webhook_secret
    if secret is None:
        raise ApiError(404, "not_found", "Stripe is not configured on this exchange")
    body = await request.body()
    try:
        event = verify_webhook(body, stripe_signature, secret)
    except WebhookRejected as exc:
        raise ApiError(400, "invalid_webhook", str(exc), field="Stripe-Signature") from exc
    event_id, event_type = event.get("id"), event.get("type")
    intent = (event.get("data") or {}).get("object") or {}
    if not isinstance(event_id, str) or not isinstance(event_type, str) or "id" not in intent:
        raise ApiError(400, "invalid_webhook", "the event has no id, type or object", field="body")
    try:
        outcome = await asyncio.to_thread(
            handlers.apply_payment_outcome, orders_context(request), event_id, event_type, intent
        )
    except PaymentProviderError as exc:
        # Stripe redelivers on a 5xx: nothing was recorded.
        raise ApiError(503, "payment_provider_unavailable", str(exc)) from exc
    return {"received": True, "outcome": outcome}
