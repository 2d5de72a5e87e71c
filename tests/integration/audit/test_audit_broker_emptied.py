"""The broker comes back empty while the audit worker runs: the new log is read from its start.

faust keeps each partition's read and committed offsets in memory and drops
records below them; on an emptied broker those offsets point into a log that
is gone. The worker sees the broker is a new cluster, sets its group back to
offset 0 and starts a fresh app: every event of the new log is stored, the
ones stored before add no second leaf.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator

import pytest

from services.common.kafka import ensure_topics
from services.common.settings import Settings
from services.contracts.topics import all_topics_with_dlq
from tests.integration.audit.conftest import AuditServer, get, publish, wait_for
from tests.unit.audit.audit_events import access_sequence, wrap
from vndx.embedded import Tansu


def _ledger(server: AuditServer, token: str) -> list[dict[str, object]]:
    response = get(server.url, "/v1/audit/records", token, limit=1000)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


@pytest.fixture
def cluster_changes() -> Iterator[list[str]]:
    """What the cluster watch says when it sees a new cluster."""
    said: list[str] = []

    class Note(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    logger = logging.getLogger("services.common.broker_identity")
    handler = Note(level=logging.WARNING)
    logger.addHandler(handler)
    yield said
    logger.removeHandler(handler)


def test_an_emptied_broker_is_read_from_the_start(
    audit_broker: Tansu,
    audit_server: AuditServer,
    audit_settings: Settings,
    token_for: Callable[[str, str], str],
    cluster_changes: list[str],
) -> None:
    regulator = token_for("bo-tt", "regulator")
    before = [wrap(p) for n in range(4) for p in access_sequence(f"lost-{n}", buyer="b-lost")]
    publish(audit_settings, before)
    wait_for(lambda: _ledger(audit_server, regulator), lambda items: len(items) >= len(before))

    old_cluster = audit_broker.cluster_id
    audit_broker.stop()
    audit_broker.start()
    new_cluster = audit_broker.cluster_id
    assert new_cluster is not None and new_cluster != old_cluster
    asyncio.run(ensure_topics(audit_broker.bootstrap_servers, all_topics_with_dlq()))
    # The first events of the new log, and the old ones again (an outbox replay).
    after = [wrap(p) for n in range(6) for p in access_sequence(f"new-{n}", buyer="b-new")]
    publish(audit_settings, after + before)

    wanted = {envelope.id for envelope in before + after}
    ledger = wait_for(
        lambda: _ledger(audit_server, regulator),
        lambda items: {item["event_id"] for item in items} >= wanted,
        timeout_s=60,
    )
    assert [item["seq"] for item in ledger] == list(range(len(ledger)))  # no gap
    assert len({item["event_id"] for item in ledger}) == len(ledger)  # no second leaf
    assert any(new_cluster in said for said in cluster_changes), cluster_changes
