"""Stripe payments against localstripe: one PaymentIntent per order across crashes,
verified webhooks applied once in any order, refunds and cancellations at Stripe."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import stripe
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import select

from services.common.db import transaction
from services.common.faults import STRIPE_AFTER_CALL
from services.common.outbox import OutboxRow
from services.contracts import access
from services.contracts import orders as events
from services.orders import handlers
from services.orders.adapters.orm import LedgerRow, StripeEventRow
from services.orders.api.app import create_app
from services.pricing.domain.signing import QuoteSigner
from vndx.embedded import SeaweedS3, Tansu

from .conftest import Headers, Shop, orders_settings
from .stripe_fake import IdempotentStripe

pytestmark = pytest.mark.integration

SECRET_KEY = "sk_test_vndx_orders"
WEBHOOK_SECRET = "whsec_vndx_test_secret"
BUYER, AGENCY = "startup-stripe", "bo-tai-chinh"


class Crash(RuntimeError):
    """Stands in for the process dying at a fault point."""


@pytest.fixture(scope="module")
def module_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite only: these tests are about Stripe; the database paths run on both elsewhere."""
    return f"sqlite:///{tmp_path_factory.mktemp('orders-stripe') / 'orders.db'}"


@pytest.fixture(scope="module")
def fake_stripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdempotentStripe]:
    fake = IdempotentStripe(tmp_path_factory.mktemp("stripe") / "localstripe.log")
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def stripe_api(fake_stripe: IdempotentStripe) -> stripe.StripeClient:
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": fake_stripe.api_base})


@pytest.fixture(scope="module")
def shop(
    keys_dir: Path,
    tansu: Tansu,
    seaweed: SeaweedS3,
    module_database_url: str,
    quote_signer: QuoteSigner,
    auth: Headers,
    fake_stripe: IdempotentStripe,
) -> Iterator[Shop]:
    settings = orders_settings(
        keys_dir,
        tansu,
        seaweed,
        module_database_url,
        stripe_secret_key=SecretStr(SECRET_KEY),
        stripe_webhook_secret=SecretStr(WEBHOOK_SECRET),
        stripe_api_base=fake_stripe.api_base,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Shop(client, quote_signer, auth)


def _crash_at(point: str) -> Any:
    def fault(name: str) -> None:
        if name == point:
            raise Crash(name)

    return fault


def _intents_by_order(api: stripe.StripeClient) -> Counter[str]:
    listed = api.v1.payment_intents.list(params={"limit": 100})
    return Counter(
        str(intent.to_dict()["metadata"].get("order_id")) for intent in listed.auto_paging_iter()
    )


def _outbox(shop: Shop, order_id: str) -> list[str]:
    with transaction(shop.ctx.engine) as session:
        rows = session.exec(select(OutboxRow).where(OutboxRow.key == order_id)).all()
    return [row.event_type for row in sorted(rows, key=lambda r: r.seq or 0)]


def _pay_at_stripe(api: stripe.StripeClient, intent_id: str) -> dict[str, Any]:
    card = api.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"},
        }
    )
    api.v1.payment_intents.update(intent_id, params={"payment_method": card.id})
    paid: dict[str, Any] = api.v1.payment_intents.confirm(intent_id).to_dict()
    return paid


def _event(event_type: str, intent: dict[str, Any]) -> str:
    return json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "api_version": "2025-01-27",
            "data": {"object": intent},
        }
    )


def _deliver(
    shop: Shop, body: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> Any:
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)
    return shop.client.post(
        "/v1/payments/stripe/webhook",
        content=body.encode(),
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def _awaiting(shop: Shop) -> dict[str, Any]:
    order = shop.order(BUYER, shop.listing(AGENCY))
    assert order["status"] == "awaiting_payment", order
    assert order["payment"]["provider"] == "stripe"
    assert order["payment"]["reference"].startswith("pi_")
    assert order["payment"]["client_secret"]
    return order


def test_one_payment_intent_per_order_even_when_the_service_crashes_after_the_call(
    shop: Shop, stripe_api: stripe.StripeClient
) -> None:
    rng = random.Random(5)
    listing = shop.listing(AGENCY)
    made: dict[str, str] = {}
    for _ in range(50):
        quote, key = (
            shop.quote(BUYER, listing, total=rng.randrange(10_000, 50_000_000)),
            str(uuid.uuid4()),
        )
        shop.ctx.fault = _crash_at(STRIPE_AFTER_CALL)
        for _crash in range(rng.randint(1, 3)):
            assert shop.place(BUYER, quote, key).status_code == 500
        shop.ctx.fault = lambda point: None
        retried = shop.place(BUYER, quote, key)
        assert retried.status_code in (200, 201), retried.text
        order = retried.json()
        assert order["status"] == "awaiting_payment"
        made[order["id"]] = order["payment"]["reference"]

    # A crash that no client retries: the periodic job reopens it with the same key.
    quote = shop.quote(BUYER, listing)
    shop.ctx.fault = _crash_at(STRIPE_AFTER_CALL)
    assert shop.place(BUYER, quote).status_code == 500
    shop.ctx.fault = lambda point: None
    orphan = shop.client.get("/v1/orders?page_size=1", headers=shop.auth(BUYER)).json()["items"][0]
    assert orphan["status"] == "placed" and orphan["payment"]["reference"] is None
    assert handlers.resume_openings(shop.ctx, older_than=timedelta(0)) >= 1
    reopened = shop.get(BUYER, orphan["id"]).json()
    made[orphan["id"]] = reopened["payment"]["reference"]

    counts = _intents_by_order(stripe_api)
    assert {order_id: counts[order_id] for order_id in made} == dict.fromkeys(made, 1)
    for order_id, intent_id in made.items():
        intent = stripe_api.v1.payment_intents.retrieve(intent_id)
        assert intent.metadata["order_id"] == order_id
        assert (intent.currency, intent.amount) == (
            "vnd",
            shop.get(BUYER, order_id).json()["total"],
        )


def test_each_webhook_delivered_three_times_pays_once(
    shop: Shop, stripe_api: stripe.StripeClient
) -> None:
    order = _awaiting(shop)
    body = _event(
        "payment_intent.succeeded", _pay_at_stripe(stripe_api, order["payment"]["reference"])
    )
    outcomes = [_deliver(shop, body).json()["outcome"] for _ in range(3)]
    assert outcomes == ["paid", "duplicate", "duplicate"]
    assert shop.get(BUYER, order["id"]).json()["status"] == "paid"
    assert _outbox(shop, order["id"]).count(events.OrderPaid.event_type) == 1


@pytest.mark.parametrize(
    ("order_count", "copies"),
    [(40, 1), pytest.param(100, 2, marks=pytest.mark.slow, id="1000-deliveries")],
)
def test_many_webhooks_in_shuffled_order_give_one_payment_per_order(
    shop: Shop, stripe_api: stripe.StripeClient, order_count: int, copies: int
) -> None:
    """Each order's success arrives 3 times and a stale failure twice, all shuffled together."""
    rng = random.Random(11)
    orders = [_awaiting(shop) for _ in range(order_count)]
    deliveries: list[str] = []
    for order in orders:
        before = stripe_api.v1.payment_intents.retrieve(order["payment"]["reference"]).to_dict()
        stale_failure = _event("payment_intent.payment_failed", before)
        success = _event(
            "payment_intent.succeeded", _pay_at_stripe(stripe_api, order["payment"]["reference"])
        )
        deliveries += ([success] * 3 + [stale_failure] * 2) * copies
    rng.shuffle(deliveries)
    assert len(deliveries) == order_count * copies * 5
    statuses = Counter(_deliver(shop, body).status_code for body in deliveries)
    assert statuses == {200: len(deliveries)}
    for order in orders:
        assert shop.get(BUYER, order["id"]).json()["status"] == "paid"
        assert _outbox(shop, order["id"]).count(events.OrderPaid.event_type) == 1
        assert events.OrderPaymentFailed.event_type not in _outbox(shop, order["id"])
    with transaction(shop.ctx.engine) as session:
        lines = session.exec(
            select(LedgerRow).where(LedgerRow.order_id.in_([o["id"] for o in orders]))  # type: ignore[attr-defined]
        ).all()
    assert len(lines) == 4 * len(orders)
    assert sum(line.amount for line in lines) == sum(o["total"] for o in orders)


@pytest.mark.parametrize("attack", ["tampered-body", "wrong-secret", "too-old", "unsigned"])
def test_an_unverifiable_webhook_is_refused_and_changes_nothing(
    shop: Shop, stripe_api: stripe.StripeClient, attack: str
) -> None:
    order = _awaiting(shop)
    body = _event(
        "payment_intent.succeeded", _pay_at_stripe(stripe_api, order["payment"]["reference"])
    )
    if attack == "tampered-body":
        header = stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)
        forged = body.replace('"amount": ', '"amount": 1')
        response = shop.client.post(
            "/v1/payments/stripe/webhook", content=forged, headers={"Stripe-Signature": header}
        )
    elif attack == "wrong-secret":
        response = _deliver(shop, body, secret="whsec_someone_else")
    elif attack == "too-old":
        response = _deliver(shop, body, timestamp=int(time.time()) - 301)
    else:
        response = shop.client.post("/v1/payments/stripe/webhook", content=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "Stripe-Signature"
    assert shop.get(BUYER, order["id"]).json()["status"] == "awaiting_payment"
    assert _outbox(shop, order["id"]) == [events.OrderPlaced.event_type]
    event_id = json.loads(body)["id"]
    with transaction(shop.ctx.engine) as session:
        assert session.get(StripeEventRow, event_id) is None
    assert _deliver(shop, body).json()["outcome"] == "paid"  # the genuine one still works


def test_a_failed_payment_is_recorded_and_a_later_success_still_pays(
    shop: Shop, stripe_api: stripe.StripeClient
) -> None:
    order = _awaiting(shop)
    intent_id = order["payment"]["reference"]
    failed = stripe_api.v1.payment_intents.retrieve(intent_id).to_dict()
    failed["last_payment_error"] = {"message": "Your card was declined."}
    assert _deliver(shop, _event("payment_intent.payment_failed", failed)).json()["outcome"] == (
        "payment_failed"
    )
    now = shop.get(BUYER, order["id"]).json()
    assert (now["status"], now["reason"]) == ("payment_failed", "Your card was declined.")
    success = _event("payment_intent.succeeded", _pay_at_stripe(stripe_api, intent_id))
    assert _deliver(shop, success).json()["outcome"] == "paid"
    assert _outbox(shop, order["id"]) == [
        events.OrderPlaced.event_type,
        events.OrderPaymentFailed.event_type,
        events.OrderPaid.event_type,
    ]


def test_a_failed_grant_is_refunded_through_stripe(
    shop: Shop, stripe_api: stripe.StripeClient
) -> None:
    order = _awaiting(shop)
    intent_id = order["payment"]["reference"]
    _deliver(shop, _event("payment_intent.succeeded", _pay_at_stripe(stripe_api, intent_id)))
    with transaction(shop.ctx.engine) as session:  # what the grant.failed consumer runs
        handlers.start_refund(
            session, shop.ctx.payments, order["id"], "no extract", shop.ctx.clock()
        )
    assert shop.get(BUYER, order["id"]).json()["status"] == "refund_pending"
    assert handlers.complete_refunds(shop.ctx) >= 1
    assert handlers.complete_refunds(shop.ctx) == 0
    assert shop.get(BUYER, order["id"]).json()["status"] == "refunded"
    refunds = stripe_api.v1.refunds.list(params={"limit": 100}).data
    mine = [r for r in refunds if r.payment_intent == intent_id]
    assert len(mine) == 1 and mine[0].amount == order["total"]
    with transaction(shop.ctx.engine) as session:
        lines = session.exec(select(LedgerRow).where(LedgerRow.order_id == order["id"])).all()
    assert sum(line.amount for line in lines) == 0 and len(lines) == 8


def test_cancelling_cancels_the_payment_intent_unless_it_is_paid(
    shop: Shop, stripe_api: stripe.StripeClient
) -> None:
    unpaid = _awaiting(shop)
    response = shop.client.post(f"/v1/orders/{unpaid['id']}/cancel", headers=shop.auth(BUYER))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    intent = stripe_api.v1.payment_intents.retrieve(unpaid["payment"]["reference"])
    assert intent.status == "canceled"

    paid_at_stripe = _awaiting(shop)
    _pay_at_stripe(stripe_api, paid_at_stripe["payment"]["reference"])  # webhook not yet here
    refused = shop.client.post(
        f"/v1/orders/{paid_at_stripe['id']}/cancel", headers=shop.auth(BUYER)
    )
    assert refused.status_code == 409
    assert shop.get(BUYER, paid_at_stripe["id"]).json()["status"] == "awaiting_payment"


def test_no_payment_intent_before_the_publisher_approves(
    shop: Shop, stripe_api: stripe.StripeClient
) -> None:
    listing = shop.listing(AGENCY, approval="provider")
    placed = shop.place(BUYER, shop.quote(BUYER, listing))
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "awaiting_approval"
    assert order["payment"]["reference"] is None and order["payment"]["client_secret"] is None
    assert handlers.resume_openings(shop.ctx, older_than=timedelta(0)) == 0
    assert _intents_by_order(stripe_api)[order["id"]] == 0

    # A PaymentIntent made behind orders' back for this order pays nothing.
    forged = stripe_api.v1.payment_intents.create(
        params={"amount": order["total"], "currency": "vnd", "metadata": {"order_id": order["id"]}}
    )
    early = _deliver(
        shop, _event("payment_intent.succeeded", _pay_at_stripe(stripe_api, forged.id))
    )
    assert early.status_code == 200 and early.json()["outcome"].startswith("ignored")
    assert shop.get(BUYER, order["id"]).json()["status"] == "awaiting_approval"

    approved = shop.client.post(
        f"/v1/orders/{order['id']}/approval",
        json={"decision": "approve", "note": "đồng ý"},
        headers=shop.auth(AGENCY, "provider"),
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "awaiting_payment"
    assert body["payment"]["reference"].startswith("pi_") and body["payment"]["client_secret"]
    intent = stripe_api.v1.payment_intents.retrieve(body["payment"]["reference"])
    assert (intent.metadata["order_id"], intent.amount) == (order["id"], order["total"])
    paid = _pay_at_stripe(stripe_api, body["payment"]["reference"])
    assert _deliver(shop, _event("payment_intent.succeeded", paid)).json()["outcome"] == "paid"
    assert shop.get(BUYER, order["id"]).json()["status"] == "paid"


def test_a_terminated_grant_is_refunded_pro_rata_through_stripe(
    shop: Shop, stripe_api: stripe.StripeClient
) -> None:
    order = _awaiting(shop)
    intent_id = order["payment"]["reference"]
    _deliver(shop, _event("payment_intent.succeeded", _pay_at_stripe(stripe_api, intent_id)))
    terminated = access.GrantTerminated(
        grant_id=str(uuid.uuid4()),
        buyer_org=BUYER,
        listing_id=order["listing_id"],
        order_id=order["id"],
        publisher_org=AGENCY,
        by_org="ubgsnn",
        by_role="regulator",
        reason="court order 7/2026",
        refund="pro_rata",
        remaining_seconds=10 * 86_400,
        period_seconds=30 * 86_400,
    )
    with transaction(shop.ctx.engine) as session:  # what the consumers run
        handlers.fulfil(session, order["id"], terminated.grant_id, shop.ctx.clock())
    for _ in range(2):  # a redelivery changes nothing
        with transaction(shop.ctx.engine) as session:
            handlers.terminate(session, shop.ctx.payments, terminated, shop.ctx.clock())
    assert shop.get(BUYER, order["id"]).json()["status"] == "refund_pending"
    assert handlers.complete_refunds(shop.ctx) >= 1
    refunded = shop.get(BUYER, order["id"]).json()
    expected = order["total"] * 10 // 30
    assert refunded["status"] == "refunded"
    assert refunded["refund"]["amount"] == expected
    refunds = stripe_api.v1.refunds.list(params={"limit": 100}).data
    mine = [r for r in refunds if r.payment_intent == intent_id]
    assert len(mine) == 1 and mine[0].amount == expected
    with transaction(shop.ctx.engine) as session:
        lines = session.exec(select(LedgerRow).where(LedgerRow.order_id == order["id"])).all()
    assert len(lines) == 8
    assert sum(line.amount for line in lines if line.entry == "refund") == -expected
    assert _outbox(shop, order["id"])[-1] == events.OrderRefunded.event_type
