"""The Stripe crash point on the whole stack: orders killed between the Stripe call and
recording its id, while commercial buyers pay by card.

Orders runs with Stripe as its payment provider (localstripe behind a proxy that
honours ``Idempotency-Key`` as Stripe does) and is armed with
``orders.after_stripe_call_before_record``: it SIGKILLs itself after Stripe made
the PaymentIntent and before the order records it. The buyer retries the same
order with the same key; the supervisor restarts orders. Each order then has
exactly one PaymentIntent at Stripe, is paid once by its (signed) webhook, and
ends fulfilled with one grant, its extract and its audit records.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from services.common import faults
from tests.integration.orders.stripe_fake import IdempotentStripe
from tests.policy_acceptance import accepted_order_body
from tests.reliability.harness import (
    RETRYABLE,
    FaultyStack,
    Market,
    Supervisor,
    start_stack,
    until,
)
from tests.reliability.invariants import check_purchases

SECRET_KEY = "sk_test_vndx_reliability"
WEBHOOK_SECRET = "whsec_vndx_reliability"
ORDERS = 40
KILLS = 5


def _retry(call: Any, seconds: float = 180) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            response: httpx.Response = call()
            if response.status_code not in RETRYABLE:
                return response
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("no answer from the stack")
        time.sleep(0.5)


def _card_payment(api: stripe.StripeClient, intent_id: str) -> dict[str, Any]:
    card = api.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"},
        }
    )
    api.v1.payment_intents.update(intent_id, params={"payment_method": card.id})
    paid: dict[str, Any] = api.v1.payment_intents.confirm(intent_id).to_dict()
    return paid


def _webhook(stack: FaultyStack, intent: dict[str, Any]) -> httpx.Response:
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "livemode": False,
            "api_version": "2025-01-27",
            "data": {"object": intent},
        }
    )
    header = stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)
    return httpx.post(
        stack.url("orders") + "/v1/payments/stripe/webhook",
        content=body.encode(),
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        timeout=30,
    )


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_orders_killed_after_the_stripe_call_make_one_payment_each(tmp_path: Path) -> None:
    fake = IdempotentStripe(tmp_path / "localstripe.log")
    fake.start()
    try:
        # Only orders reads these; every service gets them from the stack's environment.
        stack = start_stack(
            tmp_path / "stack",
            extra_env={
                "VNDX_STRIPE_SECRET_KEY": SECRET_KEY,
                "VNDX_STRIPE_API_BASE": fake.api_base,
                "VNDX_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            },
        )
        try:
            _buy_by_card_through_kills(stack, fake, tmp_path)
        finally:
            stack.stop()
    finally:
        fake.stop()


def _buy_by_card_through_kills(stack: FaultyStack, fake: IdempotentStripe, workdir: Path) -> None:
    api = stripe.StripeClient(SECRET_KEY, base_addresses={"api": fake.api_base})
    market = Market(stack)
    market.publish(workdir)  # its waivers never reach Stripe; the card buyers below do
    paid: list[str] = []
    lock = threading.Lock()

    def buy_by_card(number: int) -> None:
        buyer = market.headers(f"startup-card-{number % 4}", "buyer")
        quote = _retry(
            lambda: httpx.post(
                stack.url("pricing") + "/v1/quotes",
                json={
                    "listing_id": market.listing_id,
                    "product": "download",
                    "duration_days": 30,
                    "purpose": "commercial_analytics",
                    "justification": "market sizing",
                },
                headers=buyer,
                timeout=30,
            )
        )
        assert quote.status_code == 201, quote.text
        body = accepted_order_body(stack.url("catalog"), quote.json(), buyer)
        key = {"Idempotency-Key": str(uuid.uuid4())}
        order = _retry(
            lambda: httpx.post(
                stack.url("orders") + "/v1/orders", json=body, headers={**buyer, **key}, timeout=30
            )
        )
        assert order.status_code in (200, 201), order.text
        placed = order.json()
        assert placed["status"] == "awaiting_payment", placed
        intent = _card_payment(api, placed["payment"]["reference"])
        assert _retry(lambda: _webhook(stack, intent)).status_code == 200
        with lock:
            paid.append(str(placed["id"]))

    with Supervisor(stack) as supervisor:
        for kill in range(1, KILLS + 1):
            stack.restart("orders", f"{faults.STRIPE_AFTER_CALL}:0.5")
            before = len(paid)
            while not supervisor.wait_for_kill(kill, timeout=0.1):
                buy_by_card(len(paid))
            print(f"kill {kill}/{KILLS}: orders after the Stripe call; {before} card orders paid")
        while len(paid) < ORDERS:
            buy_by_card(len(paid))
        until("the supervisor to finish restarting", lambda: not stack.dead(), 60)
    assert all(kill.returncode == -9 for kill in supervisor.kills)

    intents = Counter(
        str(intent.to_dict()["metadata"].get("order_id"))
        for intent in api.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    )
    assert {order_id: intents[order_id] for order_id in paid} == dict.fromkeys(paid, 1)
    order_ids = set(paid)
    until(
        "every card purchase to settle",
        lambda: not check_purchases(stack, order_ids).problems,
        timeout=300,
        every=2,
    )
    final = check_purchases(stack, order_ids)
    assert final.problems == []
