"""The audit worker and API on a real broker: records, proofs, checkpoints, scope, feed, restart."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx
from typer.testing import CliRunner

from services.common.events import KafkaRecord, to_record
from services.common.kafka import DLQ_ORIGIN_HEADER, KafkaPublisher
from services.common.settings import Settings
from services.contracts.topics import ORDERS_ORDERS
from streams.ledger.checkpoint import Checkpoint, public_key_from_pem
from streams.ledger.merkle import leaf_hash
from streams.ledger.records import canonical_json
from streams.ledger.verify import verify_consistency, verify_inclusion
from tests.integration.audit.conftest import AuditServer, get, publish, wait_for
from tests.unit.audit.audit_events import (
    BUYER,
    OTHER_BUYER,
    PUBLISHER,
    access_sequence,
    agreement_sequence,
    download_url,
    ids,
    order_paid,
    order_rejected,
    wrap,
)
from vndx.cli import app as cli
from vndx.commands.dlq import read_dead_letters

Tokens = Callable[[str, str], str]
ALERT = "vn.vndx.audit.alert.raised.v1"


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def records(server: AuditServer, token: str, **filters: Any) -> list[dict[str, Any]]:
    response = get(server.url, "/v1/audit/records", token, limit=1000, **filters)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def checkpoint_covering(server: AuditServer, token: str, size: int) -> dict[str, Any]:
    response = wait_for(
        lambda: get(server.url, "/v1/audit/checkpoints/latest", token),
        lambda r: r.status_code == 200 and r.json()["tree_size"] >= size,
    )
    document: dict[str, Any] = response.json()
    return document


def verify_with_cli(*args: str) -> str:
    result = CliRunner().invoke(cli, ["audit", "verify", *args])
    assert result.exit_code == 0, result.output
    return result.output


def from_topic(settings: Settings) -> list[str]:
    """CLI arguments to verify straight from the topic, trusting the service's key file."""
    key = settings.key_path("ledger", "public")
    return ["--bootstrap", settings.kafka_bootstrap, "--public-key", str(key)]


def test_access_events_become_verifiable_records(
    audit_server: AuditServer, audit_settings: Settings, token_for: Tokens
) -> None:
    listing, order, grant = ids("e2e-int")
    envelopes = [wrap(order_paid(listing, order))] + [wrap(p) for p in access_sequence("e2e-int")]
    publish(audit_settings, envelopes)
    regulator = token_for("bo-tt", "regulator")

    grant_items = wait_for(
        lambda: records(audit_server, regulator, grant=grant), lambda items: len(items) >= 4
    )
    assert [i["event_id"] for i in grant_items] == [e.id for e in envelopes[1:]]
    assert [i["event_type"] for i in grant_items] == [
        "vn.vndx.access.grant.issued.v1",
        "vn.vndx.access.grant.download_url_issued.v1",
        "vn.vndx.access.grant.queried.v1",
        "vn.vndx.access.grant.revoked.v1",
    ]
    paid = records(audit_server, regulator, type="order.paid", listing=listing)
    assert [i["event_id"] for i in paid] == [envelopes[0].id]

    key_document = get(audit_server.url, "/v1/audit/public-key", regulator).json()
    key = public_key_from_pem(key_document["pem"].encode())
    latest = Checkpoint.from_dict(
        checkpoint_covering(audit_server, regulator, grant_items[-1]["seq"] + 1)
    )
    latest.verify(key)
    for item in grant_items:
        assert b64(item["leaf_hash"]) == leaf_hash(canonical_json(item["record"]))
        proof = get(
            audit_server.url,
            f"/v1/audit/records/{item['seq']}/proof",
            regulator,
            tree_size=latest.tree_size,
        ).json()
        verify_inclusion(
            b64(proof["leaf_hash"]),
            item["seq"],
            latest.tree_size,
            [b64(h) for h in proof["proof"]],
            latest.root_hash,
        )

    listed = get(audit_server.url, "/v1/audit/checkpoints", regulator).json()["items"]
    checkpoints = [Checkpoint.from_dict(c) for c in listed]
    for older, newer in itertools.pairwise(checkpoints):
        body = get(
            audit_server.url,
            "/v1/audit/consistency",
            regulator,
            **{"from": older.tree_size, "to": newer.tree_size},
        ).json()
        verify_consistency(
            older.tree_size,
            newer.tree_size,
            [b64(h) for h in body["proof"]],
            older.root_hash,
            newer.root_hash,
        )

    assert "ok" in verify_with_cli("--url", audit_server.url, "--token", regulator)
    wait_for(
        lambda: CliRunner().invoke(cli, ["audit", "verify", *from_topic(audit_settings)]).exit_code,
        lambda code: code == 0,
    )

    kpis = get(audit_server.url, "/v1/kpis", regulator, period="month", dimension="agency")
    row = next(r for r in kpis.json()["items"] if r["value"] == PUBLISHER)
    assert row["grants"] >= 1 and row["revenue"] >= 1_100_000


def test_decisions_reach_the_ledger_and_the_regulators_type_filter(
    audit_server: AuditServer, audit_settings: Settings, token_for: Tokens
) -> None:
    buyer = "decisions-buyer"
    events = [wrap(p) for p in agreement_sequence("decisions-int", buyer=buyer)]
    events.append(wrap(order_rejected("decisions-int-2", buyer=buyer)))
    publish(audit_settings, events)  # on catalog.listings, catalog.organisations, orders, access
    regulator = token_for("bo-tt", "regulator")
    decisions = (
        "listing.inspected,listing.reviewed,organisation.verified,order.placed,"
        "order.awaiting_approval,order.approved,order.rejected,grant.terminated"
    )

    mine = wait_for(
        lambda: records(audit_server, regulator, org=buyer), lambda items: len(items) >= 8
    )
    listed = records(audit_server, regulator, type=decisions, org=buyer)
    expected = {e.id for e in events if not e.type.endswith(("order.paid.v1", "grant.issued.v1"))}
    expected -= {e.id for e in events if ".listing." in e.type}  # the publisher's, not the buyer's
    assert {i["event_id"] for i in listed} == expected
    placed = records(audit_server, regulator, type="order.placed", org=buyer)
    assert placed[0]["record"]["data"]["policy_sha256"] == events[3].data["policy_sha256"]
    inspected = records(audit_server, regulator, type="listing.inspected,listing.reviewed")
    assert {e.id for e in events[:2]} <= {i["event_id"] for i in inspected}

    own = records(audit_server, token_for(buyer, "buyer"))
    assert {i["event_id"] for i in own} == {i["event_id"] for i in mine}
    assert records(audit_server, token_for(OTHER_BUYER, "buyer"), org=buyer) == []

    metrics = httpx.get(audit_server.url + "/metrics", timeout=10).text
    applied = [
        line
        for line in metrics.splitlines()
        if line.startswith("vndx_consumer_applied_total") and 'group="audit"' in line
    ]
    assert applied and float(applied[0].rsplit(" ", 1)[1]) >= len(events)


def test_buyers_and_providers_see_only_their_own_entries(
    audit_server: AuditServer, audit_settings: Settings, token_for: Tokens
) -> None:
    listing, _, grant = ids("scope-int")
    publish(audit_settings, [wrap(p) for p in access_sequence("scope-int", buyer=BUYER)])
    owner = token_for(BUYER, "buyer")
    stranger = token_for(OTHER_BUYER, "buyer")
    items = wait_for(lambda: records(audit_server, owner, grant=grant), lambda i: len(i) == 4)
    seq = items[0]["seq"]

    assert records(audit_server, stranger, grant=grant) == []
    assert records(audit_server, stranger, org=BUYER) == []
    for path in (f"/v1/audit/records/{seq}", f"/v1/audit/records/{seq}/proof"):
        assert get(audit_server.url, path, stranger).status_code == 404
        assert get(audit_server.url, path, owner).status_code == 200
    publisher = token_for(PUBLISHER, "provider")
    assert len(records(audit_server, publisher, listing=listing)) == 4
    assert records(audit_server, token_for("other-agency", "provider"), listing=listing) == []
    assert get(audit_server.url, "/v1/audit/records", "not-a-token").status_code == 401


def test_bad_input_is_refused_naming_the_field(
    audit_server: AuditServer, audit_settings: Settings, token_for: Tokens
) -> None:
    regulator = token_for("bo-tt", "regulator")
    _, _, grant = ids("bad-input")
    publish(audit_settings, [wrap(access_sequence("bad-input")[0])])
    seq = wait_for(lambda: records(audit_server, regulator, grant=grant), bool)[0]["seq"]
    cases: list[tuple[str, dict[str, Any], str]] = [
        (f"/v1/audit/records/{seq}/proof", {"tree_size": 10**9}, "tree_size"),
        ("/v1/audit/consistency", {"from": 10**9, "to": 10**9}, "to"),
        ("/v1/audit/records", {"since": "2026-01-01T00:00:00"}, "since"),
        ("/v1/audit/records", {"limit": 0}, "limit"),
        ("/v1/kpis", {"period": "week"}, "period"),
    ]
    for path, params, field in cases:
        response = get(audit_server.url, path, regulator, **params)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["field"] == field
    response = httpx.get(
        audit_server.url + "/v1/audit/stream",
        headers={"Authorization": f"Bearer {regulator}", "Last-Event-ID": "yesterday"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "Last-Event-ID"


def sse_events(url: str, token: str, **params: Any) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    last = params.pop("last_event_id", None)
    if last is not None:
        headers["Last-Event-ID"] = str(last)
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    with httpx.stream(
        "GET", url + "/v1/audit/stream", params=params, headers=headers, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if "id" in current:
                    events.append(current)
                current = {}
            elif line.startswith(("id: ", "event: ", "data: ")):
                name, _, value = line.partition(": ")
                current[name] = json.loads(value) if name == "data" else value
    return events


def test_feed_resumes_after_last_event_id_and_carries_alerts(
    audit_server: AuditServer, audit_settings: Settings, token_for: Tokens
) -> None:
    listing, _, grant = ids("feed-int")
    sequence = [wrap(p) for p in access_sequence("feed-int")]
    busy = [wrap(download_url(listing, grant)) for _ in range(3)]  # 4 URLs with the one above
    publish(audit_settings, sequence[:2] + busy + sequence[2:])
    regulator = token_for("bo-tt", "regulator")
    items = wait_for(lambda: records(audit_server, regulator, grant=grant), lambda i: len(i) >= 8)

    first = sse_events(audit_server.url, regulator, grant=grant, limit=2)
    assert [int(e["id"]) for e in first] == [i["seq"] for i in items[:2]]
    resumed = sse_events(
        audit_server.url, regulator, grant=grant, limit=3, last_event_id=first[-1]["id"]
    )
    assert [int(e["id"]) for e in resumed] == [i["seq"] for i in items[2:5]]
    assert resumed[0]["data"]["record"] == items[2]["record"]

    everything = sse_events(audit_server.url, regulator, grant=grant, limit=len(items))
    alerts = [e for e in everything if e["event"] == "alert"]
    assert len(alerts) == 1
    assert alerts[0]["data"]["event_type"] == ALERT
    assert alerts[0]["data"]["record"]["data"]["kind"] == "download_urls"
    owner = sse_events(audit_server.url, token_for(BUYER, "buyer"), grant=grant, limit=len(items))
    assert [int(e["id"]) for e in owner] == [i["seq"] for i in items]


def test_worker_stopped_mid_stream_and_redelivered_keeps_one_gapless_ledger(
    audit_server: AuditServer, audit_settings: Settings, token_for: Tokens
) -> None:
    buyer = "restart-buyer"
    batch = [wrap(p) for n in range(15) for p in access_sequence(f"restart-{n}", buyer=buyer)]
    regulator = token_for("bo-tt", "regulator")
    publish(audit_settings, batch)
    wait_for(lambda: records(audit_server, regulator, org=buyer), lambda i: len(i) >= 10)
    audit_server.stop()  # while the rest is still being consumed

    extra = [wrap(p) for p in access_sequence("restart-late", buyer=buyer)]
    publish(audit_settings, batch + extra)  # every event delivered again, then new ones
    audit_server.start()
    expected = [e.id for e in batch + extra]
    mine = wait_for(
        lambda: records(audit_server, regulator, org=buyer),
        lambda i: len(i) >= len(expected),
    )
    whole = records(audit_server, regulator)
    checkpoint_covering(audit_server, regulator, len(whole))
    whole = records(audit_server, regulator)
    mine = [i for i in whole if i["buyer_org"] == buyer]

    assert [i["seq"] for i in whole] == list(range(len(whole)))  # no gap
    assert len({i["event_id"] for i in whole}) == len(whole)  # no duplicate leaf
    assert sorted(i["event_id"] for i in mine) == sorted(expected)
    assert "ok" in verify_with_cli("--url", audit_server.url, "--token", regulator)
    wait_for(
        lambda: CliRunner().invoke(cli, ["audit", "verify", *from_topic(audit_settings)]).exit_code,
        lambda code: code == 0,
    )


def test_poison_is_parked_and_the_worker_goes_on(
    audit_server: AuditServer, audit_settings: Settings, token_for: Tokens
) -> None:
    listing, order, _ = ids("poison-int")
    paid = wrap(order_paid(listing, order))
    future = to_record(
        ORDERS_ORDERS,
        paid.model_copy(update={"id": f"{paid.id}-v9", "type": f"{paid.type[:-2]}v9"}),
    )
    garbage = KafkaRecord(ORDERS_ORDERS, b"poison", b"\x00not an event{", [("ce_type", b"x")])

    async def send() -> None:
        publisher = KafkaPublisher(audit_settings)
        try:
            await publisher.publish([garbage, future, to_record(ORDERS_ORDERS, paid)])
        finally:
            await publisher.stop()

    asyncio.run(send())
    regulator = token_for("bo-tt", "regulator")
    recorded = wait_for(
        lambda: records(audit_server, regulator, type="order.paid", listing=listing), bool
    )
    assert [r["event_id"] for r in recorded] == [paid.id]  # the good event after the poison
    letters = wait_for(
        lambda: asyncio.run(read_dead_letters(audit_settings, [f"{ORDERS_ORDERS}.dlq"])),
        lambda found: len(found) >= 2,
    )
    reasons = sorted(letter.reason.split(":")[0] for letter in letters)
    assert reasons == ["malformed", "unknown version"]
    assert all(letter.header(DLQ_ORIGIN_HEADER).endswith("/audit") for letter in letters)
