"""Events in and out, and statements: after paid, refunded, fulfilled and cancelled orders,
each agency's statement and the budget total equal the sums of the quotes' parts."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from services.common.events import to_record
from services.common.kafka import KafkaPublisher
from services.common.settings import Settings
from services.contracts import access, catalog
from services.contracts import orders as order_events
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.topics import ORDERS_ORDERS
from services.orders.api.app import create_app
from services.pricing.domain.signing import QuoteSigner
from tests.integration.kafka_probe import read_topic_sync
from vndx.embedded import SeaweedS3, Tansu

from .conftest import Headers, Shop, orders_settings, snapshot

pytestmark = pytest.mark.integration

AGENCY_A, AGENCY_B = "so-tnmt-da-nang", "bo-y-te"
BUYER = "startup-ledger"


@pytest.fixture(scope="module")
def shop(
    keys_dir: Path,
    tansu: Tansu,
    seaweed: SeaweedS3,
    module_database_url: str,
    quote_signer: QuoteSigner,
    auth: Headers,
) -> Iterator[Shop]:
    settings = orders_settings(keys_dir, tansu, seaweed, module_database_url)
    with TestClient(create_app(settings)) as client:
        yield Shop(client, quote_signer, auth)


def _send(settings: Settings, *payloads: EventPayload) -> None:
    async def send() -> None:
        publisher = KafkaPublisher(settings)
        try:
            await publisher.publish(
                [to_record(p.topic, Envelope.wrap(p, source="/tests")) for p in payloads]
            )
        finally:
            await publisher.stop()

    asyncio.run(send())


def _listing_event(shop: Shop, listing_id: str, org: str) -> catalog.ListingPublished:
    event = catalog.ListingPublished(listing=snapshot(listing_id, org))
    shop.learn(event.listing)
    return event


def _grant_issued(order: dict[str, Any]) -> access.GrantIssued:
    now = datetime.now(UTC)
    return access.GrantIssued(
        grant_id=str(uuid.uuid4()),
        buyer_org=order["buyer_org"],
        listing_id=order["listing_id"],
        order_id=order["id"],
        publisher_org=order["publisher_org"],
        listing_version=1,
        product="download",
        issued_at=now,
        expires_at=now + timedelta(days=30),
        privacy=access.PrivacyFigures(
            k=5, l_diversity=None, suppression_share=0.0, information_loss=0.1
        ),
        rows=100,
        objects=["sandbox/x/data.parquet"],
    )


def _grant_failed(order: dict[str, Any]) -> access.GrantFailed:
    return access.GrantFailed(
        grant_id=str(uuid.uuid4()),
        buyer_org=order["buyer_org"],
        listing_id=order["listing_id"],
        order_id=order["id"],
        reason="the extract could not reach k=5",
    )


def _eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _settle(shop: Shop, order: dict[str, Any]) -> dict[str, Any]:
    response = shop.client.post(
        f"/v1/orders/{order['id']}/settle", headers=shop.auth("ops", "operator")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_events_drive_orders_and_statements_reconcile(shop: Shop) -> None:
    settings: Settings = shop.client.app.state.settings  # type: ignore[attr-defined]
    listing_a, listing_b = str(uuid.uuid4()), str(uuid.uuid4())

    early = shop.place(BUYER, shop.quote(BUYER, listing_a))
    assert early.status_code == 409  # nothing known about the listing yet
    _send(
        settings,
        _listing_event(shop, listing_a, AGENCY_A),
        _listing_event(shop, listing_b, AGENCY_B),
    )
    _send(settings, _listing_event(shop, listing_a, AGENCY_A))  # a repeat changes nothing
    _eventually(
        lambda: shop.place(BUYER, shop.quote(BUYER, listing_b, total=0)).status_code == 201,
        "orders to learn the listings from catalog.listings",
    )

    totals = [1_100_000, 2_750_000, 330_000, 5_500_000]
    a_orders = [_settle(shop, shop.order(BUYER, listing_a, t)) for t in totals]
    b_paid = [_settle(shop, shop.order(BUYER, listing_b, t)) for t in (880_000, 4_400_000)]
    b_unpaid = shop.order(BUYER, listing_b, 990_000)
    cancelled = shop.order(BUYER, listing_a, 7_700_000)
    assert (
        shop.client.post(f"/v1/orders/{cancelled['id']}/cancel", headers=shop.auth(BUYER))
    ).status_code == 200

    refunded, fulfilled = a_orders[1], a_orders[0]
    failure, issued = _grant_failed(refunded), _grant_issued(fulfilled)
    _send(settings, failure, issued, failure)  # a redelivered failure refunds once
    _eventually(
        lambda: (
            shop.get(BUYER, refunded["id"]).json()["status"] == "refunded"
            and shop.get(BUYER, fulfilled["id"]).json()["status"] == "fulfilled"
        ),
        "grant.failed and grant.issued to be applied",
    )
    assert shop.get(BUYER, fulfilled["id"]).json()["grant_id"] == issued.grant_id

    kept_a = [o for o in a_orders if o["id"] != refunded["id"]]
    month = f"{datetime.now(UTC):%Y-%m}"
    statement = shop.client.get(
        f"/v1/statements?month={month}", headers=shop.auth(AGENCY_A, "provider")
    )
    assert statement.status_code == 200, statement.text
    body = statement.json()
    for part in ("platform_fee", "agency_share", "budget_share", "vat"):
        assert body["by_part"][part] == sum(o["split"][part] for o in kept_a)
    assert body["gross"] == sum(o["total"] for o in kept_a)
    assert {line["order_id"] for line in body["lines"]} == {o["id"] for o in a_orders}
    refund_lines = [line for line in body["lines"] if line["entry"] == "refund"]
    assert sorted(line["amount"] for line in refund_lines) == sorted(
        -v for v in refunded["split"].values()
    )

    as_csv = shop.client.get(
        f"/v1/statements?month={month}",
        headers=shop.auth(AGENCY_A, "provider", Accept="text/csv"),
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert sum(int(row["amount"]) for row in rows) == body["gross"]
    by_query = shop.client.get(
        f"/v1/statements?month={month}&format=csv", headers=shop.auth(AGENCY_A, "provider")
    )
    assert by_query.text == as_csv.text

    everything = shop.client.get(
        f"/v1/statements/totals?month={month}", headers=shop.auth("ops", "operator")
    ).json()
    kept = kept_a + b_paid
    assert everything["agencies"] == {
        AGENCY_A: sum(o["split"]["agency_share"] for o in kept_a),
        AGENCY_B: sum(o["split"]["agency_share"] for o in b_paid),
    }
    assert everything["budget_share"] == sum(o["split"]["budget_share"] for o in kept)
    assert everything["vat"] == sum(o["split"]["vat"] for o in kept)
    assert everything["ledger_total"] == everything["orders_total"] == sum(o["total"] for o in kept)
    assert everything["reconciled"] is True
    assert b_unpaid["id"] not in {line["order_id"] for line in body["lines"]}

    published = read_topic_sync(
        settings.kafka_bootstrap, ORDERS_ORDERS, key=refunded["id"], until=3, timeout_s=20
    )
    assert [envelope.type for _, envelope in published] == [
        order_events.OrderPlaced.event_type,
        order_events.OrderPaid.event_type,
        order_events.OrderRefunded.event_type,
    ]


def test_statements_are_for_their_own_readers(shop: Shop) -> None:
    month = f"{datetime.now(UTC):%Y-%m}"
    other = shop.client.get(
        f"/v1/statements?month={month}&org={AGENCY_B}", headers=shop.auth(AGENCY_A, "provider")
    )
    assert other.status_code == 403
    buyer = shop.client.get(f"/v1/statements?month={month}", headers=shop.auth(BUYER))
    assert buyer.status_code == 403
    totals = shop.client.get(
        f"/v1/statements/totals?month={month}", headers=shop.auth(AGENCY_A, "provider")
    )
    assert totals.status_code == 403
    bad = shop.client.get("/v1/statements?month=2026-13", headers=shop.auth(AGENCY_A, "provider"))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "month"
    operator = shop.client.get(
        f"/v1/statements?month={month}&org={AGENCY_B}", headers=shop.auth("ops", "operator")
    )
    assert operator.status_code == 200 and operator.json()["org"] == AGENCY_B


def test_a_statement_downloads_whatever_letters_the_organisation_code_has(shop: Shop) -> None:
    # Found by schemathesis: a header must be Latin-1, and "Đ" or "ẵ" are not.
    month = f"{datetime.now(UTC):%Y-%m}"
    org = "sở-y-tế-đà-nẵng"
    download = shop.client.get(
        "/v1/statements",
        params={"month": month, "org": org, "format": "csv"},
        headers=shop.auth("ops", "operator"),
    )
    assert download.status_code == 200, download.text
    assert download.text.splitlines()[0].startswith("order_id,entry,part")
    disposition = download.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="statement-so-y-te-da-nang-{month}.csv";')
    assert disposition.endswith(f"filename*=UTF-8''{quote(f'statement-{org}-{month}.csv')}")
