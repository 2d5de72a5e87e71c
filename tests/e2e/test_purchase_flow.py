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
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.auth import TokenIssuer
from services.common.observability import trace_id_of
from services.common.settings import Settings
from services.contracts.access import GrantIssued
from services.contracts.topics import ACCESS_GRANTS
from tests.integration.kafka_probe import read_topic
from tests.policy_acceptance import accepted_order_body
from vndx.demo_data import adult_listing
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


def _until(what: str, probe: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_a_startup_buys_the_adult_census_and_a_regulator_revokes_it(
    stack: EmbeddedStack, adult_dir: Path
) -> None:
    settings = Settings(data_dir=stack.data_dir)
    issuer = TokenIssuer(settings.private_key_path.read_bytes(), issuer="vndx", audience="vndx-api")

    def as_(org: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.issue(org, role)}"}  # type: ignore[arg-type]

    buyer_org = f"startup-{uuid.uuid4().hex[:6]}"
    trace_id = uuid.uuid4().hex
    # Every request of this purchase (the buyer's and the operator's settlement) in one trace.
    in_trace = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}
    provider, buyer = as_("gso", "provider"), {**as_(buyer_org, "buyer"), **in_trace}
    operator, regulator = as_("vndx-ops", "operator"), as_("ubgsnn", "regulator")
    catalog = httpx.Client(base_url=stack.url("catalog"), timeout=60)
    pricing = httpx.Client(base_url=stack.url("pricing"), timeout=30)
    orders = httpx.Client(base_url=stack.url("orders"), timeout=30)
    access = httpx.Client(base_url=stack.url("access"), timeout=30)
    audit = httpx.Client(base_url=stack.url("audit"), timeout=30)

    listing = catalog.post("/v1/listings", json=adult_listing(adult_dir), headers=provider).json()
    catalog.post(
        f"/v1/listings/{listing['id']}/versions",
        content=(adult_dir / "adult.csv").read_bytes(),
        headers={**provider, "Content-Type": "text/csv"},
    ).raise_for_status()
    catalog.post(
        f"/v1/listings/{listing['id']}/review", json={"decision": "approve"}, headers=operator
    ).raise_for_status()
    catalog.post(f"/v1/listings/{listing['id']}/publish", headers=provider).raise_for_status()

    # Adult has sensitive columns: only a verified organisation may quote it.
    catalog.post(
        f"/v1/organisations/{buyer_org}/verification",
        json={
            "tax_code": "0100109106",
            "registered_name": "Công ty CP Khởi nghiệp",
            "segment": "startup",
        },
        headers=operator,
    ).raise_for_status()

    def ask_quote() -> dict[str, Any] | None:
        response = pricing.post(
            "/v1/quotes",
            json={
                "listing_id": listing["id"],
                "product": "download",
                "duration_days": 30,
                "purpose": "research",
                "justification": "income inequality by occupation",
            },
            headers=buyer,
        )
        quote: dict[str, Any] = response.json() if response.status_code == 201 else {}
        # Pricing has learned the listing and the verification (the startup discount).
        return quote if quote.get("segment") == "startup" else None

    quote = _until("pricing to learn the listing", ask_quote)
    assert quote["total"] == sum(
        line["amount"] for line in quote["lines"] if line["kind"] not in ("total", "share")
    )

    def place() -> dict[str, Any] | None:
        response = orders.post(
            "/v1/orders",
            json=accepted_order_body(stack.url("catalog"), quote, buyer),
            headers={**buyer, "Idempotency-Key": quote["id"]},
        )
        return response.json() if response.status_code in (200, 201) else None

    order = _until("orders to learn the listing", place)
    if order["status"] != "paid":
        assert order["payment"]["provider"] == "local"
        settled = orders.post(f"/v1/orders/{order['id']}/settle", headers={**operator, **in_trace})
        assert settled.status_code == 200, settled.text

    def issued_grant() -> dict[str, Any] | None:
        grants = access.get("/v1/grants", headers=buyer).json()["items"]
        mine = [g for g in grants if g["order_id"] == order["id"] and g["status"] == "issued"]
        return mine[0] if mine else None

    grant = _until("the grant to be issued", issued_grant, timeout=120)
    assert grant["privacy"]["k"] >= 5
    download = access.post(
        f"/v1/grants/{grant['id']}/download", json={"format": "csv"}, headers=buyer
    )
    assert download.status_code == 200, download.text
    url = download.json()["url"]
    fetched = httpx.get(url, timeout=30)
    assert fetched.status_code == 200
    header = fetched.text.splitlines()[0]
    assert "age" in header and "salary-class" in header

    _until(
        "the order to be fulfilled",
        lambda: (
            orders.get(f"/v1/orders/{order['id']}", headers=buyer).json()["status"] == "fulfilled"
        ),
    )

    revoked = access.post(
        f"/v1/grants/{grant['id']}/revoke",
        json={"reason": "court order 12/2026"},
        headers=regulator,
    )
    assert revoked.status_code == 200, revoked.text
    assert httpx.get(url, timeout=10).status_code == 403  # refused as soon as revoked

    def trail() -> list[str] | None:
        records = audit.get("/v1/audit/records", params={"grant": grant["id"]}, headers=regulator)
        types = [r["event_type"].split(".")[-2] for r in records.json()["items"]]
        return types if "revoked" in types else None

    types = _until("the audit trail", trail)
    assert types[0] == "issued" and types[-1] == "revoked"
    assert "download_url_issued" in types
    other_buyer = as_("someone-else", "buyer")
    hidden = audit.get("/v1/audit/records", params={"grant": grant["id"]}, headers=other_buyer)
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
    settings = Settings(data_dir=stack.data_dir)
    issuer = TokenIssuer(settings.private_key_path.read_bytes(), issuer="vndx", audience="vndx-api")

    def as_(org: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.issue(org, role)}"}  # type: ignore[arg-type]

    buyer_org = f"research-{uuid.uuid4().hex[:6]}"
    provider, buyer = as_("gso", "provider"), as_(buyer_org, "buyer")
    operator, regulator = as_("vndx-ops", "operator"), as_("ubgsnn", "regulator")
    catalog = httpx.Client(base_url=stack.url("catalog"), timeout=60)
    pricing = httpx.Client(base_url=stack.url("pricing"), timeout=30)
    orders = httpx.Client(base_url=stack.url("orders"), timeout=30)
    access = httpx.Client(base_url=stack.url("access"), timeout=30)
    audit = httpx.Client(base_url=stack.url("audit"), timeout=30)

    body = {
        **adult_listing(adult_dir),
        "approval": "provider",
        "allowed_purposes": ["research", "statistics"],
    }
    listing_id = catalog.post("/v1/listings", json=body, headers=provider).json()["id"]
    catalog.post(
        f"/v1/listings/{listing_id}/versions",
        content=(adult_dir / "adult.csv").read_bytes(),
        headers={**provider, "Content-Type": "text/csv"},
    ).raise_for_status()
    catalog.post(
        f"/v1/listings/{listing_id}/review", json={"decision": "approve"}, headers=operator
    ).raise_for_status()
    catalog.post(f"/v1/listings/{listing_id}/publish", headers=provider).raise_for_status()
    catalog.post(
        f"/v1/organisations/{buyer_org}/verification",
        json={
            "tax_code": "0100109106",
            "registered_name": "Viện Nghiên cứu",
            "segment": "research_education",
        },
        headers=operator,
    ).raise_for_status()

    def ask(purpose: str) -> httpx.Response:
        return pricing.post(
            "/v1/quotes",
            json={
                "listing_id": listing_id,
                "product": "download",
                "duration_days": 30,
                "purpose": purpose,
                "justification": "wage gaps by education",
            },
            headers=buyer,
        )

    def quoted() -> dict[str, Any] | None:
        response = ask("research")
        quote: dict[str, Any] = response.json() if response.status_code == 201 else {}
        return quote if quote.get("segment") == "research_education" else None

    quote = _until("pricing to learn the listing and the verification", quoted)
    assert ask("journalism").status_code == 422  # not a purpose this listing allows

    accepted = accepted_order_body(stack.url("catalog"), quote, buyer)

    def place() -> dict[str, Any] | None:
        response = orders.post(
            "/v1/orders", json=accepted, headers={**buyer, "Idempotency-Key": quote["id"]}
        )
        return response.json() if response.status_code in (200, 201) else None

    order = _until("orders to learn the listing", place)
    assert order["status"] == "awaiting_approval"
    tampered = {**accepted, "accept_policy": "0" * 64}
    refused = orders.post(
        "/v1/orders", json=tampered, headers={**buyer, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert refused.status_code == 409, refused.text
    assert orders.post(f"/v1/orders/{order['id']}/settle", headers=operator).status_code == 409
    decided = orders.post(
        f"/v1/orders/{order['id']}/approval",
        json={"decision": "approve", "note": "Phù hợp mục đích nghiên cứu"},
        headers=provider,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "awaiting_payment"
    settled = orders.post(f"/v1/orders/{order['id']}/settle", headers=operator)
    assert settled.status_code == 200, settled.text

    def issued_grant() -> dict[str, Any] | None:
        grants = access.get("/v1/grants", headers=buyer).json()["items"]
        mine = [g for g in grants if g["order_id"] == order["id"] and g["status"] == "issued"]
        return mine[0] if mine else None

    grant = _until("the grant to be issued", issued_grant, timeout=120)
    agreement = access.get(f"/v1/grants/{grant['id']}/agreement", headers=buyer)
    assert agreement.status_code == 200
    assert hashlib.sha256(agreement.content).hexdigest() == grant["agreement_sha256"]
    assert agreement.json()["@type"] == "Agreement" and grant["purpose"] == "research"
    url = access.post(
        f"/v1/grants/{grant['id']}/download", json={"format": "csv"}, headers=buyer
    ).json()["url"]
    assert httpx.get(url, timeout=30).status_code == 200

    ended = access.post(
        f"/v1/grants/{grant['id']}/terminate",
        json={"reason": "the study ended early", "refund": "pro_rata"},
        headers=buyer,
    )
    assert ended.status_code == 200, ended.text
    assert httpx.get(url, timeout=10).status_code == 403
    gone = access.post(f"/v1/grants/{grant['id']}/download", headers=buyer)
    assert gone.status_code == 410

    def refunded() -> dict[str, Any] | None:
        seen = orders.get(f"/v1/orders/{order['id']}", headers=buyer).json()
        return seen if seen["status"] == "refunded" else None

    refunded_order = _until("the pro-rata refund", refunded)
    refund = refunded_order["refund"]["amount"]
    assert 0 < refund <= order["total"]
    month = datetime.now(UTC).strftime("%Y-%m")
    statement = orders.get("/v1/statements", params={"month": month}, headers=provider).json()
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
        records = audit.get(
            "/v1/audit/records", params={"listing": listing_id, "limit": 100}, headers=regulator
        ).json()["items"]
        found = {".".join(r["event_type"].split(".")[-3:-1]) for r in records}
        return found if wanted <= found else None

    _until("every decision in the ledger", ledger, timeout=120)
    placed = audit.get(
        "/v1/audit/records",
        params={"listing": listing_id, "type": "order.placed"},
        headers=regulator,
    ).json()["items"]
    assert any(accepted["accept_policy"] in json.dumps(r) for r in placed)
