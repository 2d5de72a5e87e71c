"""One purchase across every service, as real processes on the embedded stack.

publish -> quote -> order (local invoice) -> settle -> paid -> grant -> download
-> fulfilled -> revoke -> the same URL fails -> the audit ledger holds each step.
The purchase's requests carry one W3C trace: its id is in every service's JSON logs
and on the events the purchase caused.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.observability import trace_id_of
from services.contracts.access import GrantIssued
from services.contracts.topics import ACCESS_GRANTS
from tests import purchase_steps as steps
from tests.integration.kafka_probe import read_topic
from tests.policy_acceptance import accepted_order_body
from vndx.stack import EmbeddedStack, StackConfig

SERVICES = ("catalog", "pricing", "orders", "access", "audit")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    config = StackConfig.on_free_ports(tmp_path_factory.mktemp("purchase"), services=SERVICES)
    config.extra_env["VNDX_LOG_FORMAT"] = "json"
    running = EmbeddedStack(config)
    running.start()
    yield running
    running.stop()


def test_a_startup_buys_the_adult_census_and_a_regulator_revokes_it(
    stack: EmbeddedStack, adult_dir: Path
) -> None:
    as_ = steps.headers_for(stack)
    buyer_org = f"startup-{uuid.uuid4().hex[:6]}"
    trace_id = uuid.uuid4().hex
    # Every request of this purchase (the buyer's and the operator's settlement) in one trace.
    in_trace = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}
    provider, buyer = as_("gso", "provider"), {**as_(buyer_org, "buyer"), **in_trace}
    operator, regulator = as_("vndx-ops", "operator"), as_("ubgsnn", "regulator")
    api = steps.Clients.of(stack)

    listing = steps.publish_adult(api.catalog, adult_dir, provider, operator)
    # Adult has sensitive columns: only a verified organisation may quote it.
    steps.verify(api.catalog, buyer_org, operator, "Công ty CP Khởi nghiệp", "startup")
    # Priced for the verification: the startup discount.
    purchase = steps.buy(
        api,
        listing["id"],
        buyer,
        {**operator, **in_trace},
        justification="income inequality by occupation",
        segment="startup",
    )
    quote, order, grant = purchase.quote, purchase.order, purchase.grant
    assert quote["total"] == sum(
        line["amount"] for line in quote["lines"] if line["kind"] not in ("total", "share")
    )
    assert grant["privacy"]["k"] >= 5
    download = api.access.post(
        f"/v1/grants/{grant['id']}/download", json={"format": "csv"}, headers=buyer
    )
    assert download.status_code == 200, download.text
    url = download.json()["url"]
    fetched = httpx.get(url, timeout=30)
    assert fetched.status_code == 200
    header = fetched.text.splitlines()[0]
    assert "age" in header and "salary-class" in header

    steps.until(
        "the order to be fulfilled",
        lambda: (
            api.orders.get(f"/v1/orders/{order['id']}", headers=buyer).json()["status"]
            == "fulfilled"
        ),
    )

    revoked = api.access.post(
        f"/v1/grants/{grant['id']}/revoke",
        json={"reason": "court order 12/2026"},
        headers=regulator,
    )
    assert revoked.status_code == 200, revoked.text
    assert httpx.get(url, timeout=10).status_code == 403  # refused as soon as revoked

    def trail() -> list[str] | None:
        records = api.audit.get(
            "/v1/audit/records", params={"grant": grant["id"]}, headers=regulator
        )
        types = [r["event_type"].split(".")[-2] for r in records.json()["items"]]
        return types if "revoked" in types else None

    types = steps.until("the audit trail", trail)
    assert types[0] == "issued" and types[-1] == "revoked"
    assert "download_url_issued" in types
    other_buyer = as_("someone-else", "buyer")
    hidden = api.audit.get("/v1/audit/records", params={"grant": grant["id"]}, headers=other_buyer)
    assert hidden.status_code in (200, 404)
    if hidden.status_code == 200:
        assert hidden.json()["items"] == []

    _assert_traced(stack, trace_id, grant["id"])


def _assert_traced(stack: EmbeddedStack, trace_id: str, grant_id: str) -> None:
    """The purchase's trace id is in each service's log and on the grant's issuance."""
    for service in SERVICES:
        lines = (stack.log_dir / f"{service}.log").read_text(encoding="utf-8").splitlines()
        traced = [line for line in lines if line.startswith("{") and trace_id in line]
        assert any(json.loads(line).get("trace_id") == trace_id for line in traced), service
    events = asyncio.run(
        read_topic(stack.tansu.bootstrap_servers, ACCESS_GRANTS, key=grant_id, until=1)
    )
    issued = [e for _, e in events if e.type == GrantIssued.event_type]
    assert issued and all(trace_id_of(e.traceparent) == trace_id for e in issued)


def test_a_purpose_bound_request_is_approved_agreed_terminated_and_all_in_the_ledger(
    stack: EmbeddedStack, adult_dir: Path
) -> None:
    """Issue 12's whole path on the real stack, every decision found in the ledger.

    provider listing with approval -> quote with a purpose -> order accepting the policy
    -> awaiting approval -> the provider approves -> paid -> grant with its agreement
    -> the buyer ends it early -> access gone, the statement reversed.
    """
    as_ = steps.headers_for(stack)
    buyer_org = f"research-{uuid.uuid4().hex[:6]}"
    provider, buyer = as_("gso", "provider"), as_(buyer_org, "buyer")
    operator, regulator = as_("vndx-ops", "operator"), as_("ubgsnn", "regulator")
    api = steps.Clients.of(stack)

    listing_id = steps.publish_adult(
        api.catalog,
        adult_dir,
        provider,
        operator,
        approval="provider",
        allowed_purposes=["research", "statistics"],
    )["id"]
    steps.verify(api.catalog, buyer_org, operator, "Viện Nghiên cứu", "research_education")
    justification = "wage gaps by education"
    quote = steps.quote_once_known(
        api.pricing, buyer, listing_id, justification=justification, segment="research_education"
    )
    off_purpose = steps.ask_quote(api.pricing, buyer, listing_id, "journalism", justification)
    assert off_purpose.status_code == 422  # not a purpose this listing allows

    accepted = accepted_order_body(stack.url("catalog"), quote, buyer)
    order = steps.place_order(api.orders, accepted, buyer)
    assert order["status"] == "awaiting_approval"
    tampered = {**accepted, "accept_policy": "0" * 64}
    refused = api.orders.post(
        "/v1/orders", json=tampered, headers={**buyer, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert refused.status_code == 409, refused.text
    assert api.orders.post(f"/v1/orders/{order['id']}/settle", headers=operator).status_code == 409
    decided = api.orders.post(
        f"/v1/orders/{order['id']}/approval",
        json={"decision": "approve", "note": "Phù hợp mục đích nghiên cứu"},
        headers=provider,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "awaiting_payment"
    steps.settle(api.orders, order["id"], operator)
    grant = steps.issued_grant(api.access, buyer, order["id"])
    agreement = api.access.get(f"/v1/grants/{grant['id']}/agreement", headers=buyer)
    assert agreement.status_code == 200
    assert hashlib.sha256(agreement.content).hexdigest() == grant["agreement_sha256"]
    assert agreement.json()["@type"] == "Agreement" and grant["purpose"] == "research"
    url = api.access.post(
        f"/v1/grants/{grant['id']}/download", json={"format": "csv"}, headers=buyer
    ).json()["url"]
    assert httpx.get(url, timeout=30).status_code == 200

    ended = api.access.post(
        f"/v1/grants/{grant['id']}/terminate",
        json={"reason": "the study ended early", "refund": "pro_rata"},
        headers=buyer,
    )
    assert ended.status_code == 200, ended.text
    assert httpx.get(url, timeout=10).status_code == 403
    gone = api.access.post(f"/v1/grants/{grant['id']}/download", headers=buyer)
    assert gone.status_code == 410

    def refunded() -> dict[str, Any] | None:
        seen = api.orders.get(f"/v1/orders/{order['id']}", headers=buyer).json()
        return seen if seen["status"] == "refunded" else None

    refunded_order = steps.until("the pro-rata refund", refunded)
    refund = refunded_order["refund"]["amount"]
    assert 0 < refund <= order["total"]
    month = datetime.now(UTC).strftime("%Y-%m")
    statement = api.orders.get("/v1/statements", params={"month": month}, headers=provider).json()
    mine = [line for line in statement["lines"] if line["order_id"] == order["id"]]
    reversed_lines = [line for line in mine if line["amount"] < 0]
    assert reversed_lines, mine
    assert -sum(line["amount"] for line in reversed_lines) == refund

    wanted = {
        "order.placed",
        "order.awaiting_approval",
        "order.approved",
        "order.paid",
        "grant.issued",
        "grant.terminated",
        "order.refunded",
        "listing.inspected",
        "listing.reviewed",
    }

    def ledger() -> set[str] | None:
        records = api.audit.get(
            "/v1/audit/records", params={"listing": listing_id, "limit": 100}, headers=regulator
        ).json()["items"]
        found = {".".join(r["event_type"].split(".")[-3:-1]) for r in records}
        return found if wanted <= found else None

    steps.until("every decision in the ledger", ledger, timeout=120)
    placed = api.audit.get(
        "/v1/audit/records",
        params={"listing": listing_id, "type": "order.placed"},
        headers=regulator,
    ).json()["items"]
    assert any(accepted["accept_policy"] in json.dumps(r) for r in placed)
