"""Paid orders become grants on anonymised extracts; buyers download them until revoked.

The Adult census set (with its ARX hierarchies as catalog hints) and the demo
population registry are "published" by putting the raw file where the catalog
puts it and announcing the listing; orders' side is an ``order.paid`` event.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import shutil
import uuid
from pathlib import Path

import httpx
import pandas as pd  # type: ignore[import-untyped]
import pyarrow.parquet as pq
import pytest
from pycanon import anonymity

from services.access import handlers
from services.access.domain import derive_grant_key, pseudonym_of
from services.contracts import access as events
from tests.integration.access.conftest import (
    MASTER_KEY,
    Exchange,
    read_csv_column,
    write_population,
)
from tests.integration.kafka_probe import read_topic_sync
from vndx.demo_data import ADULT_QUASI, adult_listing


@pytest.fixture(scope="module")
def adult(exchange: Exchange, adult_dir: Path) -> str:
    return exchange.publish_listing(
        "gso", adult_listing(adult_dir)["columns"], adult_dir / "adult.csv"
    )


@pytest.fixture(scope="module")
def population(exchange: Exchange) -> tuple[str, Path]:
    raw, columns = write_population(exchange.tmp / "population.csv", 1_500)
    return exchange.publish_listing("bca-c06", columns, raw), raw


def _buyer() -> str:
    return f"startup-{uuid.uuid4().hex[:6]}"


def _grant_events(exchange: Exchange, grant_id: str, until: int) -> list[str]:
    found = read_topic_sync(
        exchange.settings.kafka_bootstrap, "access.grants", key=grant_id, until=until
    )
    return [envelope.type for _, envelope in found]


def test_the_adult_extract_is_5_anonymous_2_diverse_by_pycanon(
    exchange: Exchange, adult: str
) -> None:
    grant = exchange.buy(_buyer(), adult)
    assert grant["status"] == "issued", grant
    assert grant["privacy"]["k"] >= 5 and grant["privacy"]["l_diversity"] >= 2
    assert grant["privacy"]["suppression_share"] <= 0.05
    response = exchange.download(grant)
    assert response.status_code == 200
    frame = pd.read_parquet(io.BytesIO(response.content)).reset_index(drop=True)
    assert len(frame) >= 0.95 * 30_162
    assert len(frame) == grant["rows"]
    qi = list(ADULT_QUASI)
    assert anonymity.k_anonymity(frame, qi) >= 5
    assert anonymity.l_diversity(frame, qi, ["salary-class"]) >= 2
    csv_copy = exchange.download(grant, "csv")
    assert csv_copy.status_code == 200 and csv_copy.text.startswith('"sex","age"')
    issued = _grant_events(exchange, grant["id"], until=3)
    assert issued[0] == events.GrantIssued.event_type
    assert issued.count(events.GrantDownloadUrlIssued.event_type) == 2


def test_a_url_names_the_extract_never_the_raw_file(exchange: Exchange, adult: str) -> None:
    grant = exchange.buy(_buyer(), adult, days=1)
    issued = exchange.client.post(
        f"/v1/grants/{grant['id']}/download", headers=exchange.auth(grant["buyer_org"])
    )
    assert issued.status_code == 200
    assert f"/sandbox/{grant['id']}/extract.parquet?" in issued.json()["url"]
    assert "/raw/" not in issued.json()["url"]
    bad = exchange.client.post(
        f"/v1/grants/{grant['id']}/download",
        json={"format": "../../raw/gso/data.csv"},
        headers=exchange.auth(grant["buyer_org"]),
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "format"


def test_two_grants_give_the_same_person_different_pseudonyms(
    exchange: Exchange, population: tuple[str, Path]
) -> None:
    listing_id, raw = population
    first, second = (exchange.buy(_buyer(), listing_id) for _ in range(2))
    assert first["status"] == second["status"] == "issued", (first, second)
    pseudonyms = [
        pq.read_table(io.BytesIO(exchange.download(g).content)).column("citizen_id").to_pylist()
        for g in (first, second)
    ]
    assert not set(pseudonyms[0]) & set(pseudonyms[1])
    person = read_csv_column(raw, "citizen_id")[0]
    keys = [derive_grant_key(MASTER_KEY.encode(), g["id"]) for g in (first, second)]
    mine = [pseudonym_of(key, person) for key in keys]
    assert mine[0] != mine[1]
    assert all(p in found for p, found in zip(mine, pseudonyms, strict=True) if p in found)
    extract = pq.read_table(io.BytesIO(exchange.download(first).content))
    assert "full_name" not in extract.column_names
    assert person not in extract.column("citizen_id").to_pylist()
    assert not hmac.compare_digest(mine[0], person)


def test_another_organisation_sees_no_grant(
    exchange: Exchange, population: tuple[str, Path]
) -> None:
    grant = exchange.buy(_buyer(), population[0])
    stranger = exchange.auth("someone-else")
    for method, path in (
        ("get", f"/v1/grants/{grant['id']}"),
        ("post", f"/v1/grants/{grant['id']}/download"),
        ("get", "/v1/grants/not-a-uuid"),
        ("get", f"/v1/grants/{uuid.uuid4()}"),
    ):
        response = exchange.client.request(method, path, headers=stranger)
        assert response.status_code == 404, (path, response.text)
    assert exchange.client.get("/v1/grants", headers=stranger).json()["total"] == 0
    assert exchange.client.get(f"/v1/grants/{grant['id']}").status_code == 401
    regulator = exchange.client.get(
        f"/v1/grants/{grant['id']}", headers=exchange.auth("mic", "regulator")
    )
    assert regulator.status_code == 200


def test_revoking_deletes_the_extract_and_earlier_urls_stop_working(
    exchange: Exchange, population: tuple[str, Path]
) -> None:
    grant = exchange.buy(_buyer(), population[0])
    issued = exchange.client.post(
        f"/v1/grants/{grant['id']}/download", headers=exchange.auth(grant["buyer_org"])
    ).json()
    assert httpx.get(issued["url"]).status_code == 200
    by_buyer = exchange.client.post(
        f"/v1/grants/{grant['id']}/revoke",
        json={"reason": "mine"},
        headers=exchange.auth(grant["buyer_org"]),
    )
    assert by_buyer.status_code == 403
    revoked = exchange.client.post(
        f"/v1/grants/{grant['id']}/revoke",
        json={"reason": "purpose breached (case 42)"},
        headers=exchange.auth("mic", "regulator"),
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert httpx.get(issued["url"]).status_code == 403
    assert exchange.store.list_keys(f"sandbox/{grant['id']}/") == []
    gone = exchange.client.post(
        f"/v1/grants/{grant['id']}/download", headers=exchange.auth(grant["buyer_org"])
    )
    assert gone.status_code == 410
    again = exchange.client.post(
        f"/v1/grants/{grant['id']}/revoke",
        json={"reason": "twice"},
        headers=exchange.auth("vndx-ops", "operator"),
    )
    assert again.status_code == 410
    assert events.GrantRevoked.event_type in _grant_events(exchange, grant["id"], until=3)


def test_an_expired_grant_is_closed_and_its_extract_deleted(
    exchange: Exchange, population: tuple[str, Path]
) -> None:
    grant = exchange.buy(_buyer(), population[0], days=1)
    ctx: handlers.AccessContext = exchange.client.app.state.access  # type: ignore[attr-defined]
    from datetime import datetime

    expires_at = datetime.fromisoformat(grant["expires_at"])
    assert handlers.expire_due(ctx, expires_at) >= 1
    handlers.purge_closed(ctx)
    view = exchange.client.get(
        f"/v1/grants/{grant['id']}", headers=exchange.auth(grant["buyer_org"])
    )
    assert view.json()["status"] == "expired"
    assert exchange.store.list_keys(f"sandbox/{grant['id']}/") == []
    gone = exchange.client.post(
        f"/v1/grants/{grant['id']}/download", headers=exchange.auth(grant["buyer_org"])
    )
    assert gone.status_code == 410
    assert events.GrantExpired.event_type in _grant_events(exchange, grant["id"], until=2)


def test_too_many_urls_a_minute_are_refused_with_retry_after(
    exchange: Exchange, population: tuple[str, Path]
) -> None:
    grant = exchange.buy(_buyer(), population[0])
    path, headers = f"/v1/grants/{grant['id']}/download", exchange.auth(grant["buyer_org"])
    statuses = [exchange.client.post(path, headers=headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = exchange.client.post(path, headers=headers)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_a_renewal_order_extends_the_grant(
    exchange: Exchange, population: tuple[str, Path]
) -> None:
    grant = exchange.buy(_buyer(), population[0], days=30)
    asked = exchange.client.post(
        f"/v1/grants/{grant['id']}/renew", headers=exchange.auth(grant["buyer_org"])
    )
    assert asked.status_code == 409 and "renews_grant_id" in asked.json()["error"]["message"]
    renewal = exchange.paid(grant["buyer_org"], population[0], days=10, renews=grant["id"])
    exchange.emit(renewal)
    types = _grant_events(exchange, grant["id"], until=2)
    assert events.GrantRenewed.event_type in types
    view = exchange.client.get(
        f"/v1/grants/{grant['id']}", headers=exchange.auth(grant["buyer_org"])
    )
    from datetime import datetime, timedelta

    extended = datetime.fromisoformat(view.json()["expires_at"])
    assert extended == datetime.fromisoformat(grant["expires_at"]) + timedelta(days=10)
    # The renewed period is a new agreement, and grant.renewed carries its hash.
    agreement = exchange.client.get(
        f"/v1/grants/{grant['id']}/agreement", headers=exchange.auth(grant["buyer_org"])
    )
    assert agreement.status_code == 200
    assert extended.isoformat() in agreement.text
    renewed = [
        envelope.payload()
        for _, envelope in read_topic_sync(
            exchange.settings.kafka_bootstrap, "access.grants", key=grant["id"], until=2
        )
        if envelope.type == events.GrantRenewed.event_type
    ]
    assert [r.agreement_sha256 for r in renewed] == [  # type: ignore[attr-defined]
        hashlib.sha256(agreement.content).hexdigest()
    ]


def test_a_redelivered_payment_opens_one_grant(
    exchange: Exchange, population: tuple[str, Path]
) -> None:
    buyer = _buyer()
    order = exchange.paid(buyer, population[0])
    envelope = exchange.emit(order)
    exchange.emit(envelope=envelope)
    exchange.emit(order)  # the same order under a new event id
    exchange.grant_for(order)
    page = exchange.client.get("/v1/grants", headers=exchange.auth(buyer)).json()
    assert page["total"] == 1


def test_unreachable_targets_fail_the_grant_and_release_nothing(
    exchange: Exchange, tmp_path: Path
) -> None:
    raw = tmp_path / "one_value.csv"  # a single sensitive value: ℓ=2 is out of reach
    raw.write_text("code,value\n" + "".join(f"C{n},7\n" for n in range(200)), "utf-8")
    listing_id = exchange.publish_listing(
        "gso",
        [
            {"name": "code", "type": "string", "classification": "quasi_identifier"},
            {"name": "value", "type": "integer", "classification": "sensitive"},
        ],
        raw,
    )
    grant = exchange.buy(_buyer(), listing_id)
    assert grant["status"] == "failed" and grant["reason"]
    assert exchange.store.list_keys(f"sandbox/{grant['id']}/") == []
    refused = exchange.client.post(
        f"/v1/grants/{grant['id']}/download", headers=exchange.auth(grant["buyer_org"])
    )
    assert refused.status_code == 409
    assert _grant_events(exchange, grant["id"], until=1) == [events.GrantFailed.event_type]
    shutil.rmtree(tmp_path, ignore_errors=True)
