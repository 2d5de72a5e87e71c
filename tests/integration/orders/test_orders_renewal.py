"""A renewal is an order naming the grant it extends: order.paid carries the grant's id,
and access's grant.renewed fulfils the order with that grant."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from services.common.db import transaction
from services.common.outbox import OutboxRow
from services.contracts import access
from services.contracts import orders as events
from services.contracts.envelope import Envelope
from services.orders.consumers import on_grant_renewed
from tests.policy_acceptance import order_body

from .conftest import Shop

pytestmark = pytest.mark.integration

BUYER, AGENCY = "startup-renew", "so-tnmt-hue"


def _paid_event(shop: Shop, order_id: str) -> dict[str, object]:
    with transaction(shop.ctx.engine) as session:
        rows = session.exec(
            select(OutboxRow).where(
                OutboxRow.key == order_id, OutboxRow.event_type == events.OrderPaid.event_type
            )
        ).all()
    assert len(rows) == 1
    payload: dict[str, object] = json.loads(rows[0].envelope_json)["data"]
    return payload


def test_a_renewal_order_names_its_grant_until_access_renews_it(local_shop: Shop) -> None:
    listing_id = local_shop.listing(AGENCY)
    grant_id = str(uuid.uuid4())
    quote = local_shop.quote(BUYER, listing_id)
    placed = local_shop.client.post(
        "/v1/orders",
        json={**order_body(quote, local_shop.policy(listing_id)), "renews_grant_id": grant_id},
        headers=local_shop.auth(BUYER, "buyer", **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["renews_grant_id"] == grant_id
    settled = local_shop.client.post(
        f"/v1/orders/{order['id']}/settle", headers=local_shop.auth("ops", "operator")
    )
    assert settled.status_code == 200, settled.text
    assert _paid_event(local_shop, order["id"])["renews_grant_id"] == grant_id

    renewed = access.GrantRenewed(
        grant_id=grant_id,
        buyer_org=BUYER,
        listing_id=listing_id,
        order_id=order["id"],
        expires_at=datetime.now(UTC) + timedelta(days=60),
    )
    envelope = Envelope.wrap(renewed, source="access")
    with transaction(local_shop.ctx.engine) as session:
        on_grant_renewed(session, envelope, renewed)
    fulfilled = local_shop.get(BUYER, order["id"]).json()
    assert fulfilled["status"] == "fulfilled" and fulfilled["grant_id"] == grant_id


def test_an_order_without_renewal_says_so(local_shop: Shop) -> None:
    order = local_shop.order(BUYER, local_shop.listing(AGENCY))
    assert order["renews_grant_id"] is None


def test_a_malformed_grant_id_is_refused_naming_the_field(local_shop: Shop) -> None:
    listing_id = local_shop.listing(AGENCY)
    quote = local_shop.quote(BUYER, listing_id)
    refused = local_shop.client.post(
        "/v1/orders",
        json={**order_body(quote, local_shop.policy(listing_id)), "renews_grant_id": "a b/c"},
        headers=local_shop.auth(BUYER, "buyer", **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert refused.status_code == 422
    assert "renews_grant_id" in refused.text
