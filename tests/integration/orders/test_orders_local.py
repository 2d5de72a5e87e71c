"""Orders with the local provider: placement rules, waivers, invoices, cancel, BOLA."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from services.common.db import transaction
from services.common.outbox import OutboxRow
from services.contracts import orders as events
from services.orders.adapters.orm import InvoiceRow, LedgerRow, OrderRow

from .conftest import Shop

pytestmark = pytest.mark.integration

BUYER, OTHER, AGENCY = "startup-a", "startup-b", "so-tnmt-hue"


def _outbox_types(shop: Shop, order_id: str) -> list[str]:
    with transaction(shop.ctx.engine) as session:
        rows = session.exec(select(OutboxRow).where(OutboxRow.key == order_id)).all()
    return [row.event_type for row in sorted(rows, key=lambda r: r.seq or 0)]


def _order_count(shop: Shop) -> int:
    with transaction(shop.ctx.engine) as session:
        return len(session.exec(select(OrderRow.id)).all())


def test_an_invoice_order_awaits_a_bank_transfer_with_a_reference(local_shop: Shop) -> None:
    order = local_shop.order(BUYER, local_shop.listing(AGENCY))
    assert order["status"] == "awaiting_payment"
    assert order["publisher_org"] == AGENCY
    assert order["payment"]["provider"] == "local"
    assert re.fullmatch(rf"VNDX-{datetime.now(UTC).year}-\d{{6}}", order["payment"]["reference"])
    assert _outbox_types(local_shop, order["id"]) == [events.OrderPlaced.event_type]


def test_an_operator_settles_the_invoice_and_the_split_is_booked(local_shop: Shop) -> None:
    order = local_shop.order(BUYER, local_shop.listing(AGENCY), total=2_200_000)
    refused = local_shop.client.post(
        f"/v1/orders/{order['id']}/settle", headers=local_shop.auth(BUYER, "buyer")
    )
    assert refused.status_code == 403
    settled = local_shop.client.post(
        f"/v1/orders/{order['id']}/settle",
        json={"bank_reference": "VCB 0123 FT2603"},
        headers=local_shop.auth("ops", "operator"),
    )
    assert settled.status_code == 200, settled.text
    assert settled.json()["status"] == "paid"
    with transaction(local_shop.ctx.engine) as session:
        lines = session.exec(select(LedgerRow).where(LedgerRow.order_id == order["id"])).all()
        invoice = session.exec(select(InvoiceRow).where(InvoiceRow.order_id == order["id"])).one()
    assert {line.part: line.amount for line in lines} == order["split"]
    assert sum(line.amount for line in lines) == 2_200_000
    assert (invoice.bank_reference, invoice.settled_by) == ("VCB 0123 FT2603", "ops:operator")
    assert _outbox_types(local_shop, order["id"]) == [
        events.OrderPlaced.event_type,
        events.OrderPaid.event_type,
    ]
    again = local_shop.client.post(
        f"/v1/orders/{order['id']}/settle", headers=local_shop.auth("ops", "operator")
    )
    assert again.status_code == 409
    unknown = local_shop.client.post(
        f"/v1/orders/{uuid.uuid4()}/settle", headers=local_shop.auth("ops", "operator")
    )
    assert unknown.status_code == 404


def test_a_zero_dong_order_is_paid_at_once(local_shop: Shop) -> None:
    order = local_shop.order(BUYER, local_shop.listing(AGENCY), total=0)
    assert order["status"] == "paid"
    assert order["payment"]["provider"] == "waiver"
    assert _outbox_types(local_shop, order["id"]) == [
        events.OrderPlaced.event_type,
        events.OrderPaid.event_type,
    ]


def test_a_retry_with_the_same_key_returns_the_same_order(local_shop: Shop) -> None:
    quote = local_shop.quote(BUYER, local_shop.listing(AGENCY))
    key = str(uuid.uuid4())
    first = local_shop.place(BUYER, quote, key)
    second = local_shop.place(BUYER, quote, key)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert _outbox_types(local_shop, first.json()["id"]) == [events.OrderPlaced.event_type]


def test_the_same_key_with_another_body_is_a_conflict(local_shop: Shop) -> None:
    listing = local_shop.listing(AGENCY)
    key = str(uuid.uuid4())
    assert local_shop.place(BUYER, local_shop.quote(BUYER, listing), key).status_code == 201
    before = _order_count(local_shop)
    clash = local_shop.place(BUYER, local_shop.quote(BUYER, listing), key)
    assert clash.status_code == 409
    assert clash.json()["error"]["field"] == "Idempotency-Key"
    assert _order_count(local_shop) == before


def test_one_order_per_quote(local_shop: Shop) -> None:
    quote = local_shop.quote(BUYER, local_shop.listing(AGENCY))
    assert local_shop.place(BUYER, quote).status_code == 201
    second = local_shop.place(BUYER, quote)
    assert second.status_code == 409
    assert second.json()["error"]["field"] == "quote.id"


def test_the_idempotency_key_is_required(local_shop: Shop) -> None:
    response = local_shop.client.post(
        "/v1/orders",
        json={"quote": local_shop.quote(BUYER, local_shop.listing(AGENCY))},
        headers=local_shop.auth(BUYER),
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        (lambda q: q.update(total=q["total"] + 1), 422, "quote.signature"),
        (lambda q: q.update(signature=q["signature"][::-1]), 422, "quote.signature"),
        (lambda q: q.update(key_id="ed25519:someone-else"), 422, "quote.key_id"),
        (lambda q: q.pop("expires_at"), 422, "quote.signature"),
        (lambda q: q.pop("signature"), 422, "quote.signature"),
    ],
    ids=["tampered-total", "bad-signature", "other-key", "removed-field", "unsigned"],
)
def test_a_bad_quote_is_refused_naming_the_field(
    local_shop: Shop, change: object, status: int, field: str
) -> None:
    quote = local_shop.quote(BUYER, local_shop.listing(AGENCY))
    change(quote)  # type: ignore[operator]
    before = _order_count(local_shop)
    response = local_shop.place(BUYER, quote)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field
    assert _order_count(local_shop) == before


def test_an_expired_quote_is_refused(local_shop: Shop) -> None:
    issued = datetime.now(UTC) - timedelta(hours=2)
    quote = local_shop.quote(BUYER, local_shop.listing(AGENCY), issued_at=issued)
    response = local_shop.place(BUYER, quote)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "quote.expires_at"


def test_a_quote_issued_to_another_organisation_is_refused(local_shop: Shop) -> None:
    quote = local_shop.quote(OTHER, local_shop.listing(AGENCY))
    response = local_shop.place(BUYER, quote)
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "quote.buyer_org"


def test_a_listing_orders_has_not_heard_of_yet_is_a_retryable_conflict(local_shop: Shop) -> None:
    response = local_shop.place(BUYER, local_shop.quote(BUYER, str(uuid.uuid4())))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "listing_not_known"
    assert "retry" in response.json()["error"]["message"]


def test_only_buyers_place_orders(local_shop: Shop) -> None:
    response = local_shop.client.post(
        "/v1/orders",
        json={"quote": local_shop.quote(BUYER, local_shop.listing(AGENCY))},
        headers=local_shop.auth(BUYER, "provider", **{"Idempotency-Key": "k"}),
    )
    assert response.status_code == 403


def test_cancel_before_payment_only(local_shop: Shop) -> None:
    listing = local_shop.listing(AGENCY)
    unpaid = local_shop.order(BUYER, listing)
    cancelled = local_shop.client.post(
        f"/v1/orders/{unpaid['id']}/cancel", headers=local_shop.auth(BUYER)
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert _outbox_types(local_shop, unpaid["id"])[-1] == events.OrderCancelled.event_type
    settle = local_shop.client.post(
        f"/v1/orders/{unpaid['id']}/settle", headers=local_shop.auth("ops", "operator")
    )
    assert settle.status_code == 409
    paid = local_shop.order(BUYER, listing, total=0)
    refused = local_shop.client.post(
        f"/v1/orders/{paid['id']}/cancel", headers=local_shop.auth(BUYER)
    )
    assert refused.status_code == 409
    assert local_shop.get(BUYER, paid["id"]).json()["status"] == "paid"


def test_buyer_b_never_sees_or_touches_buyer_a_orders(local_shop: Shop) -> None:
    order = local_shop.order("startup-bola-a", local_shop.listing(AGENCY))
    path = f"/v1/orders/{order['id']}"
    other = local_shop.auth("startup-bola-b")
    assert local_shop.client.get(path, headers=other).status_code == 404
    assert local_shop.client.post(f"{path}/cancel", headers=other).status_code == 404
    assert local_shop.client.post(f"{path}/settle", headers=other).status_code == 403
    mine = local_shop.client.get("/v1/orders", headers=other).json()
    assert order["id"] not in {item["id"] for item in mine["items"]}
    assert local_shop.get("startup-bola-a", order["id"]).json()["status"] == "awaiting_payment"
    assert local_shop.get("ops", order["id"], role="operator").status_code == 200
    missing = local_shop.client.get(f"/v1/orders/{uuid.uuid4()}", headers=other)
    assert missing.status_code == 404


def test_my_orders_are_paginated_newest_first(local_shop: Shop) -> None:
    buyer = f"startup-{uuid.uuid4().hex[:6]}"
    listing = local_shop.listing(AGENCY)
    made = [local_shop.order(buyer, listing)["id"] for _ in range(5)]
    page1 = local_shop.client.get("/v1/orders?page=1&page_size=2", headers=local_shop.auth(buyer))
    page3 = local_shop.client.get("/v1/orders?page=3&page_size=2", headers=local_shop.auth(buyer))
    assert page1.json()["total"] == 5
    seen = [i["id"] for i in page1.json()["items"]] + [i["id"] for i in page3.json()["items"]]
    assert seen[:2] == made[::-1][:2] and seen[2:] == made[:1]
    everything = local_shop.client.get(
        "/v1/orders?page_size=100", headers=local_shop.auth("ops", "operator")
    ).json()
    assert everything["total"] >= 5
    bad = local_shop.client.get("/v1/orders?page_size=1000", headers=local_shop.auth(buyer))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "page_size"


def test_an_unpaid_order_expires_past_its_deadline(local_shop: Shop) -> None:
    from services.orders import handlers

    order = local_shop.order(BUYER, local_shop.listing(AGENCY))
    ctx = local_shop.ctx
    original = ctx.clock
    ctx.clock = lambda: datetime.now(UTC) + ctx.payment_window + timedelta(seconds=1)
    try:
        assert handlers.expire_overdue(ctx) >= 1
    finally:
        ctx.clock = original
    assert local_shop.get(BUYER, order["id"]).json()["status"] == "expired"
    assert _outbox_types(local_shop, order["id"])[-1] == events.OrderCancelled.event_type
