"""Issue 12's decisions in the ledger: inspection, review, verification, policy, approval, termination."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine

from services.common.auth import Principal
from services.common.db import transaction
from streams.audit.queries import RecordFilter, page_records
from tests.unit.audit.audit_events import (
    AGREEMENT_SHA256,
    BUYER,
    OTHER_BUYER,
    POLICY_SHA256,
    PUBLISHER,
    agreement_sequence,
    order_rejected,
    wrap,
)
from tests.unit.audit.conftest import Apply

REGULATOR = Principal("r", "bo-tt", "regulator")
DECISIONS = (
    "listing.inspected,listing.reviewed,organisation.verified,order.placed,"
    "order.awaiting_approval,order.approved,order.rejected,grant.terminated"
)


def visible(engine: Engine, principal: Principal, **filters: Any) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        rows = page_records(session, principal, RecordFilter(**filters), limit=1000)
    return [
        {"type": r.event_type.split(".", 2)[2], "record": json.loads(r.record), "seq": r.seq}
        for r in rows
    ]


def test_every_decision_is_a_ledger_record_in_order(engine: Engine, apply: Apply) -> None:
    events = [wrap(p) for p in agreement_sequence("agreed")]
    for envelope in events + events:  # delivered twice: recorded once
        apply(envelope)

    everything = visible(engine, REGULATOR)
    assert [r["record"]["event_id"] for r in everything] == [e.id for e in events]
    assert [r["type"] for r in everything] == [
        "catalog.listing.inspected.v1",
        "catalog.listing.reviewed.v1",
        "catalog.organisation.verified.v1",
        "orders.order.placed.v1",
        "orders.order.awaiting_approval.v1",
        "orders.order.approved.v1",
        "orders.order.paid.v1",
        "access.grant.issued.v1",
        "access.grant.terminated.v1",
    ]
    placed = everything[3]["record"]["data"]
    assert placed["policy_sha256"] == POLICY_SHA256
    assert (placed["purpose"], placed["justification"]) == ("research", "flood risk model")
    assert everything[7]["record"]["data"]["agreement_sha256"] == AGREEMENT_SHA256
    terminated = everything[8]["record"]["data"]
    assert (terminated["by_role"], terminated["refund"]) == ("regulator", "pro_rata")


def test_the_regulator_lists_the_decisions_by_type(engine: Engine, apply: Apply) -> None:
    for payload in [*agreement_sequence("agreed"), order_rejected("refused")]:
        apply(wrap(payload))

    decisions = visible(engine, REGULATOR, type=DECISIONS)
    assert [r["type"].rsplit(".", 1)[0] for r in decisions] == [
        "catalog.listing.inspected",
        "catalog.listing.reviewed",
        "catalog.organisation.verified",
        "orders.order.placed",
        "orders.order.awaiting_approval",
        "orders.order.approved",
        "access.grant.terminated",
        "orders.order.rejected",
    ]
    assert decisions[-1]["record"]["data"]["automatic"] is True
    acceptances = visible(engine, REGULATOR, type="order.placed")
    assert [r["record"]["data"]["policy_sha256"] for r in acceptances] == [POLICY_SHA256]


def test_buyers_and_providers_see_only_their_own_decisions(engine: Engine, apply: Apply) -> None:
    for payload in agreement_sequence("mine", buyer=BUYER) + agreement_sequence(
        "theirs", buyer=OTHER_BUYER
    ):
        apply(wrap(payload))

    mine = visible(engine, Principal("b", BUYER, "buyer"))
    assert {r["type"] for r in mine} >= {
        "catalog.organisation.verified.v1",
        "orders.order.placed.v1",
        "orders.order.approved.v1",
        "access.grant.terminated.v1",
    }
    assert all(r["record"]["org"] == BUYER for r in mine)
    # Inspection and review concern the listing, not a buyer.
    assert not [r for r in mine if r["type"].startswith("catalog.listing.")]
    theirs = visible(engine, Principal("b", OTHER_BUYER, "buyer"))
    assert {r["seq"] for r in mine}.isdisjoint(r["seq"] for r in theirs)

    provider = visible(engine, Principal("p", PUBLISHER, "provider"))
    provider_types = {r["type"] for r in provider}
    assert "catalog.listing.inspected.v1" in provider_types
    assert "orders.order.placed.v1" in provider_types
    # A buyer's verification is not the publisher's business.
    assert "catalog.organisation.verified.v1" not in provider_types
    assert visible(engine, Principal("p", "another-agency", "provider")) == []
