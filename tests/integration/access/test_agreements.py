"""Agreements on grants, the listing's terms in extracts and the sandbox, and termination.

The demo population registry is announced with usage-policy terms in its
snapshot; ``order.paid`` carries the buyer's purpose and the hash of the offer
it accepted. Everything runs on the real broker, object store and database.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.access.adapters.extracts import ExtractStore
from services.access.handlers import AccessContext
from services.common import usage_policy
from services.contracts import access as events
from services.contracts.catalog import ListingSnapshot
from tests.integration.access.conftest import Exchange, write_population
from tests.integration.access.listings import announce, paid_for
from tests.integration.kafka_probe import read_topic_sync

PUBLISHER = "bca-c06"


@pytest.fixture(scope="module")
def registry(exchange: Exchange) -> tuple[Path, list[dict[str, Any]]]:
    return write_population(exchange.tmp / "registry.csv", 1_500, seed=21)


def _listing(
    exchange: Exchange, registry: tuple[Path, list[dict[str, Any]]], **terms: Any
) -> ListingSnapshot:
    raw, columns = registry
    return announce(exchange, PUBLISHER, columns, raw, **terms)


def _buy(exchange: Exchange, listing: ListingSnapshot, **kw: Any) -> dict[str, Any]:
    order = paid_for(exchange, f"startup-{uuid.uuid4().hex[:6]}", listing, **kw)
    exchange.emit(order)
    grant = exchange.grant_for(order)
    assert grant["status"] == "issued", grant
    return grant


def _events(exchange: Exchange, grant_id: str, until: int) -> list[events.EventPayload]:
    found = read_topic_sync(
        exchange.settings.kafka_bootstrap, "access.grants", key=grant_id, until=until
    )
    return [envelope.payload() for _, envelope in found]


def _terminate(
    exchange: Exchange,
    grant: dict[str, Any],
    headers: dict[str, str],
    refund: str,
    reason: str = "breach of the purpose",
) -> httpx.Response:
    return exchange.client.post(
        f"/v1/grants/{grant['id']}/terminate",
        json={"reason": reason, "refund": refund},
        headers=headers,
    )


def _status(exchange: Exchange, grant: dict[str, Any]) -> str:
    view = exchange.client.get(
        f"/v1/grants/{grant['id']}", headers=exchange.auth(grant["buyer_org"])
    )
    return str(view.json()["status"])


def test_the_grant_holds_the_agreement_and_grant_issued_its_hash(
    exchange: Exchange, registry: tuple[Path, list[dict[str, Any]]]
) -> None:
    listing = _listing(
        exchange, registry, allowed_purposes=["research", "statistics"], min_group_size=20
    )
    grant = _buy(exchange, listing, purpose="statistics")
    path = f"/v1/grants/{grant['id']}/agreement"
    response = exchange.client.get(path, headers=exchange.auth(grant["buyer_org"]))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    digest = hashlib.sha256(response.content).hexdigest()
    assert response.headers["X-Agreement-SHA256"] == digest

    document = response.json()
    iri_base = exchange.settings.iri_base
    accepted = usage_policy.policy_sha256(usage_policy.offer(listing, iri_base))
    assert document["@type"] == "Agreement"
    assert document["assigner"] == f"vndx:org/{PUBLISHER}"
    assert document["assignee"] == f"vndx:org/{grant['buyer_org']}"
    assert document["target"] == usage_policy.version_iri(iri_base, listing.listing_id, 1)
    assert document["vndx:acceptedOffer"] == accepted
    constraints = document["permission"][0]["constraint"]
    assert {
        "leftOperand": "purpose",
        "operator": "eq",
        "rightOperand": "vndx:purpose/statistics",
    } in constraints
    assert {
        "leftOperand": "vndx:minGroupSize",
        "operator": "gteq",
        "rightOperand": 20,
    } in constraints
    rebuilt = usage_policy.agreement(
        listing,
        iri_base,
        grant_id=grant["id"],
        buyer_org=grant["buyer_org"],
        purpose="statistics",
        issued_at=datetime.fromisoformat(grant["issued_at"]),
        expires_at=datetime.fromisoformat(grant["expires_at"]),
        listing_version=1,
        accepted_offer_sha256=accepted,
    )
    assert usage_policy.policy_sha256(rebuilt) == digest

    issued = _events(exchange, grant["id"], until=1)[0]
    assert isinstance(issued, events.GrantIssued)
    assert issued.agreement_sha256 == digest and issued.purpose == "statistics"
    assert (grant["purpose"], grant["agreement_sha256"]) == ("statistics", digest)
    view = exchange.client.get(
        f"/v1/grants/{grant['id']}", headers=exchange.auth("mic", "regulator")
    )
    assert view.json()["agreement_sha256"] == digest

    for org, role in ((PUBLISHER, "provider"), ("mic", "regulator"), ("vndx-ops", "operator")):
        seen = exchange.client.get(path, headers=exchange.auth(org, role))
        assert seen.status_code == 200 and seen.content == response.content, (org, role)
    for org, role in (("someone-else", "buyer"), ("tinh-khac", "provider")):
        assert exchange.client.get(path, headers=exchange.auth(org, role)).status_code == 404
    assert exchange.client.get(path).status_code == 401
    stranger = exchange.client.get(
        f"/v1/grants/{uuid.uuid4()}/agreement", headers=exchange.auth("mic", "regulator")
    )
    assert stranger.status_code == 404


def test_min_k_raises_the_extracts_k_and_min_group_size_the_sandbox_threshold(
    exchange: Exchange, registry: tuple[Path, list[dict[str, Any]]]
) -> None:
    lower = _listing(exchange, registry, min_k=2)
    preview = exchange.client.get(
        f"/v1/listings/{lower.listing_id}/preview", headers=exchange.auth("startup-x")
    )
    assert preview.status_code == 200 and preview.json()["k"] == 5  # never lowered

    strict = _listing(exchange, registry, min_k=12, min_group_size=75)
    grant = _buy(exchange, strict, product="sandbox")
    assert grant["privacy"]["k"] >= 12
    answer = exchange.client.post(
        f"/v1/grants/{grant['id']}/query",
        json={
            "sql": "SELECT sex, occupation, count(*) AS people FROM extract GROUP BY sex, occupation"
        },
        headers=exchange.auth(grant["buyer_org"]),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["k"] == 75
    assert body["suppressed_groups"] > 0, body
    assert body["rows"] and all(people >= 75 for _, _, people in body["rows"])


def test_the_publisher_terminates_for_breach_without_refund_and_access_ends(
    exchange: Exchange, registry: tuple[Path, list[dict[str, Any]]]
) -> None:
    grant = _buy(exchange, _listing(exchange, registry))
    buyer = exchange.auth(grant["buyer_org"])
    url = exchange.client.post(f"/v1/grants/{grant['id']}/download", headers=buyer).json()["url"]
    assert httpx.get(url).status_code == 200
    publisher = exchange.auth(PUBLISHER, "provider")
    listed = exchange.client.get(
        "/v1/published-grants", params={"page_size": 100}, headers=publisher
    )
    assert listed.status_code == 200
    assert grant["id"] in {g["id"] for g in listed.json()["items"]}
    others = exchange.client.get(
        "/v1/published-grants", headers=exchange.auth("tinh-khac", "provider")
    )
    assert others.json()["total"] == 0
    assert exchange.client.get("/v1/published-grants", headers=buyer).status_code == 403

    for headers in (exchange.auth("someone-else"), exchange.auth("tinh-khac", "provider")):
        assert _terminate(exchange, grant, headers, "none").status_code == 404
    wrong = _terminate(exchange, grant, publisher, "pro_rata")
    assert wrong.status_code == 403, wrong.text
    assert (
        wrong.json()["error"]["field"] == "refund"
        and "'pro_rata'" in wrong.json()["error"]["message"]
    )
    assert _terminate(exchange, grant, buyer, "full").status_code == 403
    bad = _terminate(exchange, grant, publisher, "half")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "refund"
    assert _status(exchange, grant) == "issued"
    assert httpx.get(url).status_code == 200  # nothing changed

    ended = _terminate(exchange, grant, publisher, "none")
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "terminated"
    assert ended.json()["reason"] == "breach of the purpose"
    assert httpx.get(url).status_code == 403
    assert exchange.store.list_keys(f"sandbox/{grant['id']}/") == []
    gone = exchange.client.post(f"/v1/grants/{grant['id']}/download", headers=buyer)
    assert gone.status_code == 410
    again = _terminate(exchange, grant, exchange.auth("mic", "regulator"), "full")
    assert again.status_code == 410

    terminated = [
        e for e in _events(exchange, grant["id"], until=3) if isinstance(e, events.GrantTerminated)
    ]
    assert len(terminated) == 1
    event = terminated[0]
    assert (event.by_org, event.by_role, event.refund) == (PUBLISHER, "provider", "none")
    assert event.order_id == grant["order_id"] and event.publisher_org == PUBLISHER
    assert event.period_seconds == 30 * 86_400
    assert 29 * 86_400 < event.remaining_seconds <= event.period_seconds


def test_a_buyer_ends_its_grant_pro_rata_only_where_the_policy_allows(
    exchange: Exchange, registry: tuple[Path, list[dict[str, Any]]]
) -> None:
    locked = _buy(exchange, _listing(exchange, registry, buyer_may_terminate=False))
    refused = _terminate(
        exchange, locked, exchange.auth(locked["buyer_org"]), "pro_rata", "no longer needed"
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "buyer_may_not_terminate"
    assert _status(exchange, locked) == "issued"

    grant = _buy(exchange, _listing(exchange, registry, buyer_may_terminate=True), days=10)
    buyer = exchange.auth(grant["buyer_org"])
    assert _terminate(exchange, grant, buyer, "none", "no longer needed").status_code == 403
    ended = _terminate(exchange, grant, buyer, "pro_rata", "no longer needed")
    assert ended.status_code == 200 and ended.json()["status"] == "terminated"
    event = next(
        e for e in _events(exchange, grant["id"], until=2) if isinstance(e, events.GrantTerminated)
    )
    assert (event.by_org, event.refund, event.period_seconds) == (
        grant["buyer_org"],
        "pro_rata",
        10 * 86_400,
    )


def test_a_regulator_terminates_with_a_full_refund(
    exchange: Exchange, registry: tuple[Path, list[dict[str, Any]]]
) -> None:
    grant = _buy(exchange, _listing(exchange, registry, buyer_may_terminate=False))
    ended = _terminate(
        exchange, grant, exchange.auth("mic", "regulator"), "full", "court order 12/2026"
    )
    assert ended.status_code == 200, ended.text
    event = next(
        e for e in _events(exchange, grant["id"], until=2) if isinstance(e, events.GrantTerminated)
    )
    assert (event.by_role, event.refund, event.reason) == (
        "regulator",
        "full",
        "court order 12/2026",
    )
    assert json.loads(event.model_dump_json())["remaining_seconds"] > 0


class _TerminatingMidBuild:
    """The extract store, with a regulator terminating the grant once its extract is uploaded."""

    def __init__(self, exchange: Exchange, real: ExtractStore) -> None:
        self.exchange, self.real = exchange, real
        self.terminated = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def build(self, grant_id: str, *args: Any, **kwargs: Any) -> Any:
        built = self.real.build(grant_id, *args, **kwargs)
        assert self.exchange.store.list_keys(f"sandbox/{grant_id}/")
        ended = self.exchange.client.post(
            f"/v1/grants/{grant_id}/terminate",
            json={"reason": "court order during the build", "refund": "full"},
            headers=self.exchange.auth("mic", "regulator"),
        )
        assert ended.status_code == 200, ended.text
        self.terminated.set()
        return built


def test_a_grant_terminated_while_its_extract_uploads_leaves_no_object(
    exchange: Exchange, registry: tuple[Path, list[dict[str, Any]]]
) -> None:
    ctx: AccessContext = exchange.client.app.state.access  # type: ignore[attr-defined]
    real = ctx.extracts
    terminating = _TerminatingMidBuild(exchange, real)
    ctx.extracts = terminating  # type: ignore[assignment]
    try:
        listing = _listing(exchange, registry)
        order = paid_for(exchange, f"startup-{uuid.uuid4().hex[:6]}", listing)
        exchange.emit(order)
        grant = exchange.grant_for(order)
        # The status is visible as soon as the termination commits; its deletion follows.
        assert terminating.terminated.wait(60)
    finally:
        ctx.extracts = real
    assert grant["status"] == "terminated"
    assert exchange.store.list_keys(f"sandbox/{grant['id']}/") == []
    types = [type(e) for e in _events(exchange, grant["id"], until=1)]
    assert types == [events.GrantTerminated]
