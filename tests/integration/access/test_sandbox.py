"""Sandbox queries: aggregates only, small groups suppressed, every escape refused and audited."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest

from services.contracts import access as events
from tests.integration.access.conftest import Exchange, write_population
from tests.integration.kafka_probe import read_topic_sync

ESCAPES = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT count(*) FROM read_csv_auto('/etc/passwd')",
    "COPY (SELECT 1) TO '/tmp/vndx-escape.csv'",
    "COPY extract TO '/tmp/vndx-escape.csv'",
    "ATTACH '/tmp/vndx-escape.db' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SELECT sex, count(*) FROM extract GROUP BY sex; SELECT 1",
    "SELECT * FROM extract",
    "SELECT sex, count(*) FROM extract GROUP BY sex UNION ALL SELECT full_name, 1 FROM extract",
    "SELECT sex, (SELECT count(*) FROM glob('/*')) FROM extract GROUP BY sex",
    "SELECT sex, sum(CASE WHEN citizen_id = 'x' THEN monthly_income END) FROM extract GROUP BY sex",
    "SELECT sex, list(citizen_id) FROM extract GROUP BY sex",
]


@pytest.fixture(scope="module")
def sandbox(exchange: Exchange) -> dict[str, Any]:
    raw, columns = write_population(exchange.tmp / "population.csv", 1_500, seed=11)
    listing_id = exchange.publish_listing("bca-c06", columns, raw)
    grant = exchange.buy(f"lab-{uuid.uuid4().hex[:6]}", listing_id, product="sandbox")
    assert grant["status"] == "issued", grant
    return grant


def _query(exchange: Exchange, grant: dict[str, Any], sql: str) -> Any:
    return exchange.client.post(
        f"/v1/grants/{grant['id']}/query",
        json={"sql": sql},
        headers=exchange.auth(grant["buyer_org"]),
    )


def test_an_aggregate_query_answers(exchange: Exchange, sandbox: dict[str, Any]) -> None:
    answer = _query(
        exchange,
        sandbox,
        "SELECT sex, count(*) AS people, avg(monthly_income) AS income "
        "FROM extract GROUP BY sex ORDER BY sex",
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["columns"] == ["sex", "people", "income"]
    assert sorted(row[0] for row in body["rows"]) == ["Nam", "Nữ"]
    assert sum(row[1] for row in body["rows"]) == sandbox["rows"]


def test_groups_smaller_than_k_are_suppressed(exchange: Exchange, sandbox: dict[str, Any]) -> None:
    answer = _query(
        exchange,
        sandbox,
        "SELECT province, occupation, sex, count(*) AS n FROM extract GROUP BY ALL",
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["suppressed_groups"] > 0 and body["suppressed_cells"] > 0
    assert all(row[3] >= body["k"] for row in body["rows"])


def test_every_escape_is_refused_and_audited(exchange: Exchange, sandbox: dict[str, Any]) -> None:
    for sql in ESCAPES:
        refused = _query(exchange, sandbox, sql)
        assert refused.status_code == 400, (sql, refused.text)
        assert refused.json()["error"]["field"] == "sql"
    assert not Path("/tmp/vndx-escape.csv").exists()
    assert not Path("/tmp/vndx-escape.db").exists()
    audited = read_topic_sync(
        exchange.settings.kafka_bootstrap,
        "access.grants",
        key=sandbox["id"],
        until=len(ESCAPES) + 1,
        timeout_s=30,
    )
    refusals = {
        envelope.data["sql_sha256"]
        for _, envelope in audited
        if envelope.type == events.GrantQueried.event_type and envelope.data["refused"]
    }
    assert refusals >= {hashlib.sha256(sql.encode()).hexdigest() for sql in ESCAPES}


def test_a_download_grant_cannot_be_queried(exchange: Exchange) -> None:
    raw, columns = write_population(exchange.tmp / "small.csv", 300, seed=3)
    grant = exchange.buy("lab-dl", exchange.publish_listing("bca-c06", columns, raw))
    refused = _query(exchange, grant, "SELECT count(*) FROM extract")
    assert refused.status_code == 409
    sandbox_download = exchange.client.post(
        f"/v1/grants/{grant['id']}/query",
        json={"sql": "SELECT count(*) FROM extract"},
        headers=exchange.auth("intruder"),
    )
    assert sandbox_download.status_code == 404
