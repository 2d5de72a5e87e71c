"""A terminated grant, through the real broker: refund none, all or the unused share;
the settlement lines reversed in proportion on the provider's statement; applied once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from services.common.db import transaction
from services.common.events import to_record
from services.common.kafka import KafkaPublisher
from services.common.outbox import OutboxRow
from services.contracts import access
from services.contracts import orders as events
from services.contracts.envelope import Envelope, EventPayload
from services.orders.adapters.orm import LedgerRow

from .conftest import Shop

pytestmark = pytest.mark.integration

BUYER, AGENCY = "startup-terminated", "so-ldtbxh-hue"
DAY = 86_400


def _send(shop: Shop, *payloads: EventPayload) -> None:
    async def send() -> None:
        publisher = KafkaPublisher(shop.settings)
        try:
            await publisher.publish(
                [to_record(p.topic, Envelope.wrap(p, source="/tests")) for p in payloads]
            )
        finally:
            await publisher.stop()

    asyncio.run(send())


def _eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _fulfilled(shop: Shop, listing: str, total: int) -> tuple[dict[str, Any], str]:
    """A paid order whose grant access issued (through the broker)."""
    order = shop.order(BUYER, listing, total)
    settled = shop.client.post(
        f"/v1/orders/{order['id']}/settle", headers=shop.auth("ops", "operator")
    )
    assert settled.status_code == 200, settled.text
    now = datetime.now(UTC)
    grant_id = str(uuid.uuid4())
    issued = access.GrantIssued(
        grant_id=grant_id,
        buyer_org=BUYER,
        listing_id=listing,
        order_id=order["id"],
        publisher_org=AGENCY,
        listing_version=1,
        product="download",
        issued_at=now,
        expires_at=now + timedelta(days=30),
        privacy=access.PrivacyFigures(
            k=5, l_diversity=None, suppression_share=0.0, information_loss=0.1
        ),
        rows=100,
        objects=["extracts/x/data.csv"],
    )
    _send(shop, issued)
    _eventually(
        lambda: shop.get(BUYER, order["id"]).json()["status"] == "fulfilled",
        "grant.issued to fulfil the order",
    )
    return order, grant_id


def _terminated(
    order: dict[str, Any], grant_id: str, refund: str, remaining_days: int = 10
) -> access.GrantTerminated:
    return access.GrantTerminated(
        grant_id=grant_id,
        buyer_org=BUYER,
        listing_id=order["listing_id"],
        order_id=order["id"],
        publisher_org=AGENCY,
        by_org="ubgsnn" if refund != "none" else AGENCY,
        by_role="regulator" if refund != "none" else "provider",
        reason="court order 3/2026" if refund != "none" else "breach: re-identification attempt",
        refund=refund,
        remaining_seconds=remaining_days * DAY,
        period_seconds=30 * DAY,
    )


def _lines(shop: Shop, order_id: str) -> list[LedgerRow]:
    with transaction(shop.ctx.engine) as session:
        return list(session.exec(select(LedgerRow).where(LedgerRow.order_id == order_id)).all())


def _outbox_types(shop: Shop, order_id: str) -> list[str]:
    with transaction(shop.ctx.engine) as session:
        rows = session.exec(select(OutboxRow).where(OutboxRow.key == order_id)).all()
    return [row.event_type for row in sorted(rows, key=lambda r: r.seq or 0)]


def test_termination_refunds_and_reverses_the_statement(local_shop: Shop) -> None:
    listing = local_shop.listing(AGENCY)
    pro_rata, grant_a = _fulfilled(local_shop, listing, 3_300_007)
    full, grant_b = _fulfilled(local_shop, listing, 1_100_000)
    breach, grant_c = _fulfilled(local_shop, listing, 2_200_000)

    first = _terminated(pro_rata, grant_a, "pro_rata", remaining_days=10)
    _send(
        local_shop,
        first,
        _terminated(full, grant_b, "full"),
        _terminated(breach, grant_c, "none"),
        first.model_copy(),  # the same termination again (another event id): applied once
    )
    _eventually(
        lambda: (
            [local_shop.get(BUYER, o["id"]).json()["status"] for o in (pro_rata, full, breach)]
            == ["refunded", "refunded", "terminated"]
        ),
        "grant.terminated to be applied",
    )

    expected = 3_300_007 * 10 // 30
    seen = local_shop.get(BUYER, pro_rata["id"]).json()
    assert seen["refund"]["amount"] == expected
    assert "court order 3/2026" in seen["refund"]["reason"]
    reversal = [line for line in _lines(local_shop, pro_rata["id"]) if line.entry == "refund"]
    assert len(reversal) == 4 and sum(line.amount for line in reversal) == -expected
    for line in reversal:  # each part in proportion, to the đồng
        sold = pro_rata["split"][line.part]
        assert abs(-line.amount * 3_300_007 - sold * expected) < 3_300_007
    assert sum(line.amount for line in _lines(local_shop, full["id"])) == 0
    assert [line.entry for line in _lines(local_shop, breach["id"])] == ["sale"] * 4
    assert local_shop.get(BUYER, breach["id"]).json()["refund"] is None

    month = f"{datetime.now(UTC):%Y-%m}"
    statement = local_shop.client.get(
        f"/v1/statements?month={month}", headers=local_shop.auth(AGENCY, "provider")
    ).json()
    mine = [line for line in statement["lines"] if line["order_id"] == pro_rata["id"]]
    assert sorted(line["entry"] for line in mine) == ["refund"] * 4 + ["sale"] * 4
    agency_reversed = next(
        line["amount"]
        for line in mine
        if line["entry"] == "refund" and line["part"] == "agency_share"
    )
    assert agency_reversed < 0
    totals = local_shop.client.get(
        f"/v1/statements/totals?month={month}", headers=local_shop.auth("ops", "operator")
    ).json()
    assert totals["reconciled"] is True

    assert _outbox_types(local_shop, pro_rata["id"])[-1] == events.OrderRefunded.event_type
    assert _outbox_types(local_shop, pro_rata["id"]).count(events.OrderRefunded.event_type) == 1
    assert events.OrderRefunded.event_type not in _outbox_types(local_shop, breach["id"])
