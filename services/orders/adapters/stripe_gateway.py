"""Stripe adapter: PaymentIntents in VND (zero-decimal), refunds, webhook verification.

Every write carries an idempotency key derived from the order and stored with it before
the call, so a call retried after a crash returns the first result, never a second
PaymentIntent or refund.
"""

from __future__ import annotations

from typing import Any

import stripe

from services.orders.adapters import stripe_checkout as checkout
from services.orders.adapters.payments import (
    Opening,
    PaymentAlreadyMade,
    PaymentProviderError,
    PaymentState,
)
from services.orders.domain.model import Order, PaymentProvider

_STATES: dict[str, PaymentState] = {
    "succeeded": "succeeded",
    "canceled": "canceled",
    "requires_payment_method": "failed",
}


class WebhookRejected(ValueError):
    """A webhook whose body or signature does not verify (400)."""


def verify_webhook(payload: bytes, signature_header: str | None, secret: str) -> dict[str, Any]:
    """The event, if ``secret`` signed this exact body recently (5 minutes' tolerance)."""
    if not signature_header:
        raise WebhookRejected("the Stripe-Signature header is missing")
    try:
        event = stripe.Webhook.construct_event(payload, signature_header, secret)
    except stripe.SignatureVerificationError as exc:
        raise WebhookRejected(f"signature does not verify: {exc.user_message or exc}") from exc
    except ValueError as exc:
        raise WebhookRejected("the body is not a JSON event") from exc
    result: dict[str, Any] = event.to_dict()
    return result


class StripeGateway:
    name: PaymentProvider = "stripe"
    offline = False

    def __init__(
        self,
        secret_key: str,
        api_base: str | None = None,
        *,
        checkout_return_url: str | None = None,
    ) -> None:
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=2,
        )
        self._checkout_return_url = checkout_return_url

    def open_payment(self, order: Order) -> Opening:
        if self._checkout_return_url:
            return checkout.open_session(self._client, order, self._checkout_return_url)
        try:
            intent = self._client.v1.payment_intents.create(
                params={
                    "amount": order.total,  # VND is zero-decimal: the amount is in đồng
                    "currency": "vnd",
                    "metadata": {"order_id": order.id, "quote_id": order.terms.id},
                },
                options={"idempotency_key": order.payment_key},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe refused the PaymentIntent: {exc}") from exc
        return Opening(reference=str(intent.id), client_secret=intent.client_secret)

    def payment_state(self, reference: str) -> PaymentState:
        if checkout.is_session(reference):
            return checkout.session_state(self._client, reference)
        try:
            intent = self._client.v1.payment_intents.retrieve(reference)
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe could not say: {exc}") from exc
        return _STATES.get(str(intent.status), "pending")

    def cancel_payment(self, order: Order) -> None:
        if order.payment_ref is None:
            return
        if self.payment_state(order.payment_ref) == "succeeded":
            raise PaymentAlreadyMade("the PaymentIntent has already succeeded")
        if checkout.is_session(order.payment_ref):
            checkout.expire_session(self._client, order, order.payment_ref)
            return
        try:
            self._client.v1.payment_intents.cancel(
                order.payment_ref, options={"idempotency_key": f"{order.payment_key}-cancel"}
            )
        except stripe.StripeError as exc:
            if self.payment_state(order.payment_ref) == "canceled":
                return
            raise PaymentProviderError(f"Stripe could not cancel: {exc}") from exc

    def refund(self, order: Order) -> str | None:
        if order.payment_ref is None:
            raise PaymentProviderError("the order has no PaymentIntent to refund")
        intent = order.payment_ref
        if checkout.is_session(intent):
            intent = checkout.session_payment_intent(self._client, intent)
        params: dict[str, Any] = {
            "payment_intent": intent,
            "metadata": {"order_id": order.id},
        }
        if order.refund_amount is not None and order.refund_amount < order.total:
            params["amount"] = order.refund_amount  # a part (pro rata), in đồng
        try:
            refund = self._client.v1.refunds.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"{order.payment_key}-refund"},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe refused the refund: {exc}") from exc
        # A pending refund is accepted by Stripe and completes on its side.
        return str(refund.id) if refund.status in ("succeeded", "pending") else None
