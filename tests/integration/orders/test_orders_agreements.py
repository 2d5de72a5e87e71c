"""Orders rest on an accepted usage policy and, where the publisher asks, its approval.

On the real broker and on SQLite and PostgreSQL: a missing or tampered ``accept_policy``
is refused with nothing written; a listing event changes the policy orders checks; a
provider listing's order waits for its publisher, who approves or rejects it (another
organisation cannot, a buyer or operator may not, nobody decides twice or late), and
undecided requests are rejected automatically once the deadline has passed.
"""

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
from services.common.usage_policy import policy_sha256
from services.contracts import catalog
from services.contracts import orders as events
from services.contracts.envelope import Envelope
from services.orders import handlers
from services.orders.adapters.orm import IdempotencyRow, OrderRow, remember_listing
from services.orders.domain.approval import add_working_days

from .conftest import Shop, snapshot

pytestmark = pytest.mark.integration

BUYER, AGENCY, OTHER_AGENCY = "startup-purpose", "so-y-te-hue", "so-tnmt-hue"


def _outbox(shop: Shop, order_id: str) -> list[Envelope]:
    with transaction(shop.ctx.engine) as session:
        rows = session.exec(select(OutboxRow).where(OutboxRow.key == order_id)).all()
    ordered = sorted(rows, key=lambda r: r.seq or 0)
    return [Envelope.model_validate_json(row.envelope_json) for row in ordered]


def _types(shop: Shop, order_id: str) -> list[str]:
    return [envelope.type for envelope in _outbox(shop, order_id)]


def _rows(shop: Shop) -> tuple[int, int, int]:
    """Orders, idempotency keys and outbox rows: a refusal adds none of them."""
    with transaction(shop.ctx.engine) as session:
        return (
            len(session.exec(select(OrderRow.id)).all()),
            len(session.exec(select(IdempotencyRow.key)).all()),
            len(session.exec(select(OutboxRow.seq)).all()),
        )


def _eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _decide(shop: Shop, order_id: str, org: str, decision: str, role: str = "provider") -> Any:
    return shop.client.post(
        f"/v1/orders/{order_id}/approval",
        json={"decision": decision, "note": f"{decision} by {org}"},
        headers=shop.auth(org, role),
    )


def _settle(shop: Shop, order_id: str) -> Any:
    return shop.client.post(f"/v1/orders/{order_id}/settle", headers=shop.auth("ops", "operator"))


# --- the accepted usage policy ------------------------------------------------------------


@pytest.mark.parametrize(
    "accept_policy",
    [None, "", "0" * 64, "tampered"],
    ids=["missing", "empty", "another-hash", "not-a-hash"],
)
def test_an_order_without_the_policy_hash_is_refused_and_nothing_is_written(
    local_shop: Shop, accept_policy: str | None
) -> None:
    listing = local_shop.listing(AGENCY)
    before = _rows(local_shop)
    response = local_shop.place(
        BUYER, local_shop.quote(BUYER, listing), accept_policy=accept_policy
    )
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "policy_not_accepted"
    assert response.json()["error"]["field"] == "accept_policy"
    assert _rows(local_shop) == before


def test_the_policy_of_another_listing_is_not_this_listings_policy(local_shop: Shop) -> None:
    mine, other = local_shop.listing(AGENCY), local_shop.listing(OTHER_AGENCY)
    foreign = policy_sha256(local_shop.policy(other))
    before = _rows(local_shop)
    response = local_shop.place(BUYER, local_shop.quote(BUYER, mine), accept_policy=foreign)
    assert response.status_code == 409
    assert _rows(local_shop) == before
    accepted = local_shop.place(BUYER, local_shop.quote(BUYER, mine))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["policy_sha256"] == policy_sha256(local_shop.policy(mine))


def test_the_order_and_its_payment_carry_purpose_justification_and_policy(
    local_shop: Shop,
) -> None:
    listing = local_shop.listing(AGENCY)
    quote = local_shop.quote(
        BUYER, listing, purpose="statistics", justification="Thống kê lao động tỉnh"
    )
    order = local_shop.place(BUYER, quote).json()
    assert (order["purpose"], order["justification"]) == ("statistics", "Thống kê lao động tỉnh")
    assert _settle(local_shop, order["id"]).status_code == 200
    placed, paid = _outbox(local_shop, order["id"])
    digest = policy_sha256(local_shop.policy(listing))
    for envelope in (placed, paid):
        assert envelope.data["purpose"] == "statistics"
        assert envelope.data["justification"] == "Thống kê lao động tỉnh"
        assert envelope.data["policy_sha256"] == digest
    assert placed.data["approval"] == "automatic"


def test_a_purpose_the_listing_does_not_allow_is_refused(local_shop: Shop) -> None:
    listing = local_shop.listing(AGENCY, allowed_purposes=["research", "education"])
    before = _rows(local_shop)
    response = local_shop.place(
        BUYER, local_shop.quote(BUYER, listing, purpose="commercial_analytics")
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "quote.purpose"
    assert _rows(local_shop) == before


def test_a_listing_event_changes_the_policy_orders_checks(local_shop: Shop) -> None:
    settings = local_shop.settings
    listing_id = local_shop.listing(AGENCY)
    old_policy = policy_sha256(local_shop.policy(listing_id))
    assert local_shop.place(BUYER, local_shop.quote(BUYER, listing_id)).status_code == 201

    changed = snapshot(listing_id, AGENCY, allowed_purposes=["research"], min_group_size=20)

    async def send() -> None:
        publisher = KafkaPublisher(settings)
        try:
            event = catalog.ListingUpdated(listing=changed)
            await publisher.publish([to_record(event.topic, Envelope.wrap(event, source="/t"))])
        finally:
            await publisher.stop()

    asyncio.run(send())
    local_shop.learn(changed)
    _eventually(
        lambda: local_shop.place(BUYER, local_shop.quote(BUYER, listing_id)).status_code == 201,
        "orders to apply the listing's new policy from catalog.listings",
    )
    stale = local_shop.place(BUYER, local_shop.quote(BUYER, listing_id), accept_policy=old_policy)
    assert stale.status_code == 409
    assert stale.json()["error"]["field"] == "accept_policy"


# --- the publisher's approval -------------------------------------------------------------


def _request(shop: Shop, total: int = 1_100_000, publisher: str = AGENCY) -> dict[str, Any]:
    listing = shop.listing(publisher, approval="provider")
    response = shop.place(BUYER, shop.quote(BUYER, listing, total=total))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_provider_listing_order_awaits_approval_and_cannot_be_paid(local_shop: Shop) -> None:
    order = _request(local_shop)
    assert order["status"] == "awaiting_approval"
    assert order["approval_mode"] == "provider"
    assert order["payment"]["reference"] is None
    placed_at = datetime.fromisoformat(order["placed_at"])
    approval = order["approval"]
    assert datetime.fromisoformat(approval["decide_by"]) == add_working_days(placed_at, 5)
    assert approval["decision"] is None and approval["note"] is None
    placed, waiting = _outbox(local_shop, order["id"])
    assert (placed.type, waiting.type) == (
        events.OrderPlaced.event_type,
        events.OrderAwaitingApproval.event_type,
    )
    assert placed.data["approval"] == "provider"
    assert waiting.data["purpose"] == "research"
    refused = _settle(local_shop, order["id"])
    assert refused.status_code == 409
    assert "approved" in refused.json()["error"]["message"]
    assert local_shop.get(BUYER, order["id"]).json()["status"] == "awaiting_approval"


def test_the_publisher_approves_and_the_buyer_pays(local_shop: Shop) -> None:
    order = _request(local_shop)
    approved = _decide(local_shop, order["id"], AGENCY, "approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "awaiting_payment"
    assert approved.json()["payment"]["reference"].startswith("VNDX-")
    seen = local_shop.get(BUYER, order["id"]).json()
    assert seen["approval"]["decision"] == "approved"
    assert seen["approval"]["note"] == f"approve by {AGENCY}"
    assert seen["approval"]["decided_by"] == AGENCY
    assert _decide(local_shop, order["id"], AGENCY, "reject").status_code == 409
    assert _settle(local_shop, order["id"]).status_code == 200
    assert _types(local_shop, order["id"]) == [
        events.OrderPlaced.event_type,
        events.OrderAwaitingApproval.event_type,
        events.OrderApproved.event_type,
        events.OrderPaid.event_type,
    ]
    paid = _outbox(local_shop, order["id"])[-1]
    assert paid.data["purpose"] == "research" and paid.data["policy_sha256"]


def test_the_publisher_rejects_and_the_buyer_reads_why(local_shop: Shop) -> None:
    order = _request(local_shop)
    rejected = _decide(local_shop, order["id"], AGENCY, "reject")
    assert rejected.status_code == 200
    seen = local_shop.get(BUYER, order["id"]).json()
    assert seen["status"] == "rejected"
    assert seen["approval"]["decision"] == "rejected"
    assert seen["approval"]["note"] == f"reject by {AGENCY}"
    assert seen["approval"]["automatic"] is False
    assert _decide(local_shop, order["id"], AGENCY, "approve").status_code == 409
    assert _settle(local_shop, order["id"]).status_code == 409
    last = _outbox(local_shop, order["id"])[-1]
    assert last.type == events.OrderRejected.event_type
    assert (last.data["by_org"], last.data["automatic"]) == (AGENCY, False)


def test_only_the_publishing_organisations_provider_decides(local_shop: Shop) -> None:
    order = _request(local_shop)
    before = _rows(local_shop)
    another = _decide(local_shop, order["id"], OTHER_AGENCY, "approve")
    assert another.status_code == 404
    for role in ("buyer", "operator", "regulator"):
        refused = _decide(local_shop, order["id"], AGENCY, "approve", role=role)
        assert refused.status_code == 403, role
    missing = _decide(local_shop, str(uuid.uuid4()), AGENCY, "approve")
    assert missing.status_code == 404
    bad = local_shop.client.post(
        f"/v1/orders/{order['id']}/approval",
        json={"decision": "maybe"},
        headers=local_shop.auth(AGENCY, "provider"),
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "decision"
    assert _rows(local_shop) == before
    assert local_shop.get(BUYER, order["id"]).json()["status"] == "awaiting_approval"


def test_providers_list_their_pending_requests_page_by_page(local_shop: Shop) -> None:
    publisher = f"so-{uuid.uuid4().hex[:6]}"
    made = [_request(local_shop, publisher=publisher)["id"] for _ in range(3)]
    mine = local_shop.auth(publisher, "provider")
    first = local_shop.client.get("/v1/approvals?page_size=2", headers=mine).json()
    second = local_shop.client.get("/v1/approvals?page=2&page_size=2", headers=mine).json()
    assert first["total"] == 3
    assert [o["id"] for o in first["items"] + second["items"]] == made  # oldest deadline first
    others = local_shop.client.get("/v1/approvals", headers=local_shop.auth(AGENCY, "provider"))
    assert not set(made) & {o["id"] for o in others.json()["items"]}
    assert _decide(local_shop, made[0], publisher, "approve").status_code == 200
    pending = local_shop.client.get("/v1/approvals", headers=mine).json()
    decided = local_shop.client.get("/v1/approvals?state=decided", headers=mine).json()
    assert [o["id"] for o in pending["items"]] == made[1:]
    assert [o["id"] for o in decided["items"]] == made[:1]
    as_buyer = local_shop.client.get("/v1/approvals", headers=local_shop.auth(BUYER))
    assert as_buyer.status_code == 403
    seen = local_shop.get(publisher, made[1], role="provider")
    assert seen.status_code == 200 and seen.json()["justification"]
    assert local_shop.get(OTHER_AGENCY, made[1], role="provider").status_code == 404


def test_a_free_request_is_paid_once_approved(local_shop: Shop) -> None:
    order = _request(local_shop, total=0)
    assert order["status"] == "awaiting_approval"
    approved = _decide(local_shop, order["id"], AGENCY, "approve")
    assert approved.json()["status"] == "paid"
    assert _types(local_shop, order["id"])[-1] == events.OrderPaid.event_type


def test_the_buyer_may_withdraw_a_request_before_the_decision(local_shop: Shop) -> None:
    order = _request(local_shop)
    cancelled = local_shop.client.post(
        f"/v1/orders/{order['id']}/cancel", headers=local_shop.auth(BUYER)
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert _decide(local_shop, order["id"], AGENCY, "approve").status_code == 409


def _deadline_in_the_past(shop: Shop, order_id: str) -> None:
    with transaction(shop.ctx.engine) as session:
        row = session.get(OrderRow, order_id)
        assert row is not None
        row.decide_by = datetime.now(UTC) - timedelta(minutes=1)
        session.add(row)


def test_undecided_requests_are_rejected_automatically_after_the_deadline(
    local_shop: Shop,
) -> None:
    late, on_time = _request(local_shop), _request(local_shop)
    _deadline_in_the_past(local_shop, late["id"])
    before = _rows(local_shop)
    too_late = _decide(local_shop, late["id"], AGENCY, "approve")
    assert too_late.status_code == 409
    assert too_late.json()["error"]["field"] == "decision"
    assert _rows(local_shop) == before

    assert handlers.reject_undecided(local_shop.ctx) >= 1
    assert handlers.reject_undecided(local_shop.ctx) == 0
    seen = local_shop.get(BUYER, late["id"]).json()
    assert seen["status"] == "rejected"
    assert seen["approval"]["automatic"] is True and seen["approval"]["decided_by"] is None
    rejected = _outbox(local_shop, late["id"])[-1]
    assert rejected.type == events.OrderRejected.event_type
    assert rejected.data["automatic"] is True and rejected.data["by_org"] is None
    assert local_shop.get(BUYER, on_time["id"]).json()["status"] == "awaiting_approval"


def test_the_periodic_refresh_sees_a_policy_changed_through_another_replica(
    local_shop: Shop,
) -> None:
    listing_id = local_shop.listing(AGENCY)
    assert local_shop.place(BUYER, local_shop.quote(BUYER, listing_id)).status_code == 201
    cached = local_shop.ctx.listings[listing_id]
    assert cached.policy_sha256 == policy_sha256(local_shop.policy(listing_id))
    assert handlers.refresh_listings(local_shop.ctx) == 0  # nothing changed

    changed = snapshot(listing_id, AGENCY, buyer_may_terminate=False)
    with transaction(local_shop.ctx.engine) as session:  # another replica's consumer
        remember_listing(session, changed)
    local_shop.learn(changed)
    assert handlers.refresh_listings(local_shop.ctx) == 1
    assert local_shop.ctx.listings[listing_id].policy_sha256 == policy_sha256(
        local_shop.policy(listing_id)
    )
    assert local_shop.place(BUYER, local_shop.quote(BUYER, listing_id)).status_code == 201


def test_the_general_path_checks_the_policy_stored_now_not_the_cached_one(
    local_shop: Shop,
) -> None:
    listing_id = local_shop.listing(AGENCY)
    before = policy_sha256(local_shop.policy(listing_id))
    waiver = local_shop.quote(BUYER, listing_id, total=0)  # waivers take the general path
    assert local_shop.place(BUYER, waiver).status_code == 201
    assert local_shop.ctx.listings[listing_id].policy_sha256 == before

    changed = snapshot(listing_id, AGENCY, buyer_may_terminate=False)
    with transaction(local_shop.ctx.engine) as session:  # another replica's consumer
        remember_listing(session, changed)
    local_shop.learn(changed)
    after = policy_sha256(local_shop.policy(listing_id))
    assert after != before

    stale = local_shop.place(
        BUYER, local_shop.quote(BUYER, listing_id, total=0), accept_policy=before
    )
    assert stale.status_code == 409, stale.text
    assert stale.json()["error"]["code"] == "policy_not_accepted"
    fresh = local_shop.place(BUYER, local_shop.quote(BUYER, listing_id, total=0))
    assert fresh.status_code == 201, fresh.text
    assert fresh.json()["policy_sha256"] == after
    assert local_shop.ctx.listings[listing_id].policy_sha256 == after
