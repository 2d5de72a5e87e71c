"""Stripe Checkout: a payment page hosted by Stripe, for buyers paying in the browser.

The portal's Content-Security-Policy loads no script from another host, so Stripe.js
cannot confirm a PaymentIntent there; instead orders opens a Checkout Session per
order and the portal sends the buyer to its URL. The session id (``cs_…``) is the
order's payment reference: ``checkout.session.completed`` (``payment_status`` paid)
marks the order paid, the session's PaymentIntent is what a refund refunds. Every
write carries an idempotency key derived from the order, like the PaymentIntent path.
"""

from __future__ import annotations

from typing import Any

import stripe

from services.orders.adapters.payments import Opening, PaymentProviderError, PaymentState
from services.orders.domain.model import Order

SESSION_PREFIX = "cs_"


def is_session(reference: str) -> bool:
    return reference.startswith(SESSION_PREFIX)


def open_session(client: stripe.StripeClient, order: Order, return_url: str) -> Opening:
    """A Checkout Session for the order's total in đồng (VND is zero-decimal)."""
    base = return_url.rstrip("/")
    metadata = {"order_id": order.id, "quote_id": order.terms.id}
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "vnd",
                    "unit_amount": order.total,
                    "product_data": {"name": f"vndx order {order.id}"},
                },
            }
        ],
        "success_url": f"{base}/orders/{order.id}?checkout=done",
        "cancel_url": f"{base}/orders/{order.id}?checkout=cancelled",
        "client_reference_id": order.id,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
    }
    try:
        session = client.v1.checkout.sessions.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": order.payment_key},
        )
    except stripe.StripeError as exc:
        raise PaymentProviderError(f"Stripe refused the Checkout Session: {exc}") from exc
    return Opening(reference=str(session.id), checkout_url=session.url)


def session_state(client: stripe.StripeClient, reference: str) -> PaymentState:
    try:
        session = client.v1.checkout.sessions.retrieve(reference)
    except stripe.StripeError as exc:
        raise PaymentProviderError(f"Stripe could not say: {exc}") from exc
    if session.payment_status == "paid":
        return "succeeded"
    if session.status == "expired":
        return "canceled"
    return "pending"


def expire_session(client: stripe.StripeClient, order: Order, reference: str) -> None:
    """Close the page so the buyer can no longer pay (an order cancelled or expired)."""
    try:
        client.v1.checkout.sessions.expire(
            reference, options={"idempotency_key": f"{order.payment_key}-cancel"}
        )
    except stripe.StripeError as exc:
        if session_state(client, reference) == "canceled":
            return
        raise PaymentProviderError(f"Stripe could not expire the session: {exc}") from exc


def session_payment_intent(client: stripe.StripeClient, reference: str) -> str:
    """The PaymentIntent a paid session created (what a refund refunds)."""
    try:
        session = client.v1.checkout.sessions.retrieve(reference)
    except stripe.StripeError as exc:
        raise PaymentProviderError(f"Stripe could not say: {exc}") from exc
    intent = session.payment_intent
    if intent is None:
        raise PaymentProviderError("the Checkout Session has no payment to refund")
    return intent if isinstance(intent, str) else str(intent.id)
