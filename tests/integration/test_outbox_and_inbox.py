"""At-least-once delivery made exactly-once in effect: outbox relay crash, inbox dedupe, DLQ."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from services.common.auth import TokenIssuer
from services.common.consumer import EventConsumer
from services.common.db import create_tables, make_engine, transaction
from services.common.events import KafkaRecord, to_record
from services.common.faults import OUTBOX_AFTER_COMMIT, OUTBOX_AFTER_PUBLISH
from services.common.kafka import DLQ_REASON_HEADER, KafkaPublisher
from services.common.outbox import OutboxRelay, add_event
from services.common.runtime import COMMON_TABLES
from services.common.settings import Settings
from services.contracts import catalog as catalog_events
from services.contracts.envelope import Envelope, EventPayload
from tests.integration.kafka_probe import read_topic
from tests.listing_snapshots import bare_snapshot
from vndx.embedded import SeaweedS3, Tansu
from vndx.stack import EmbeddedStack, StackConfig

CSV = b"name,age,region,income\nAn,30,ha-noi,100\nBinh,41,hue,200\n"
BODY = {
    "title_vi": "Thu nhập",
    "title_en": "Income",
    "theme": "population",
    "columns": [
        {"name": "name", "type": "string", "classification": "direct_identifier"},
        {"name": "age", "type": "integer", "classification": "quasi_identifier"},
        {"name": "region", "type": "string", "classification": "quasi_identifier"},
        {"name": "income", "type": "integer", "classification": "sensitive"},
    ],
}


def _unpublished(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT event_type FROM outbox WHERE published_at IS NULL ORDER BY seq"
        ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.parametrize("point", [OUTBOX_AFTER_COMMIT, OUTBOX_AFTER_PUBLISH])
def test_relay_killed_mid_delivery_delivers_after_restart(
    tmp_path: Path, tansu: Tansu, seaweed: SeaweedS3, point: str
) -> None:
    config = StackConfig.on_free_ports(tmp_path / "stack", services=["catalog"])
    config.extra_env = {
        "VNDX_FAULT_INJECTION": point,
        "VNDX_S3_BUCKET": f"t-{uuid.uuid4().hex[:8]}",
    }
    stack = EmbeddedStack(config, tansu=tansu, s3=seaweed)
    stack.start()
    try:
        settings = Settings(data_dir=stack.data_dir)
        issuer = TokenIssuer(
            settings.private_key_path.read_bytes(), issuer="vndx", audience="vndx-api"
        )
        headers = {"Authorization": f"Bearer {issuer.issue('org-crash', 'provider')}"}
        with httpx.Client(base_url=stack.url("catalog"), timeout=30) as client:
            listing_id = client.post("/v1/listings", json=BODY, headers=headers).json()["id"]
            # The process may die before it answers; the commit is what counts.
            with contextlib.suppress(httpx.HTTPError):
                client.post(
                    f"/v1/listings/{listing_id}/versions",
                    content=CSV,
                    headers={**headers, "Content-Type": "text/csv"},
                )
        process = stack.processes["catalog"]
        deadline = time.monotonic() + 20
        while process.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process.returncode == -signal.SIGKILL, "the fault point never fired"
        db = stack.data_dir / "catalog.db"
        assert _unpublished(db) == [
            catalog_events.ListingVersionAdded.event_type,
            catalog_events.ListingInspected.event_type,
        ]
        seen_before = asyncio.run(
            read_topic(tansu.bootstrap_servers, "catalog.listings", key=listing_id, timeout_s=2)
        )
        assert len(seen_before) == (2 if point == OUTBOX_AFTER_PUBLISH else 0)

        stack.processes.pop("catalog")
        stack.config.extra_env["VNDX_FAULT_INJECTION"] = ""
        stack.start_service("catalog")
        deadline = time.monotonic() + 20
        while _unpublished(db) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _unpublished(db) == []
        events = asyncio.run(
            read_topic(tansu.bootstrap_servers, "catalog.listings", key=listing_id, until=2)
        )
        ids = {envelope.id for _, envelope in events}
        assert len(ids) == 2, "two events, however often they were sent"
        assert len(events) == (4 if point == OUTBOX_AFTER_PUBLISH else 2)
    finally:
        stack.stop()


def _snapshot_event(listing_id: str) -> EventPayload:
    return catalog_events.ListingRetired(
        listing=bare_snapshot(listing_id, org="org-x", status="retired")
    )


async def test_redelivered_event_is_applied_once_and_poison_goes_to_dlq(
    tmp_path: Path, tansu: Tansu
) -> None:
    topic = "catalog.listings"
    settings = Settings(
        kafka_bootstrap=tansu.bootstrap_servers, consumer_max_attempts=2, data_dir=tmp_path
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'consumer.db'}")
    create_tables(engine, COMMON_TABLES)
    listing_id = str(uuid.uuid4())
    applied: list[str] = []

    def handler(session: Session, envelope: Envelope, payload: EventPayload) -> None:
        assert isinstance(payload, catalog_events.ListingRetired)
        if payload.listing.listing_id == listing_id:  # other tests share the topic
            applied.append(envelope.id)

    publisher = KafkaPublisher(settings)
    envelope = Envelope.wrap(_snapshot_event(listing_id), source="/test")
    good = to_record(topic, envelope)
    malformed = KafkaRecord(topic, listing_id.encode(), b"{not json", [("ce_id", b"x")])
    future_version = to_record(
        topic,
        envelope.model_copy(update={"id": str(uuid.uuid4()), "type": envelope.type[:-1] + "9"}),
    )
    oversized = KafkaRecord(topic, listing_id.encode(), b"x" * (settings.max_event_bytes + 1), [])
    await publisher.publish([good, malformed, future_version, good, oversized])

    consumer = EventConsumer(
        settings=settings,
        engine=engine,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        topics=[topic],
        handlers={catalog_events.ListingRetired.event_type: handler},
        publisher=publisher,
    )
    task = asyncio.create_task(consumer.run())
    try:
        deadline = time.monotonic() + 60
        while consumer.stats.dead_lettered < 3 or consumer.stats.duplicates < 1:
            assert time.monotonic() < deadline, consumer.stats
            await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await publisher.stop()
    assert applied == [envelope.id]
    reasons = sorted(r.split(":")[0] for r in consumer.stats.reasons)
    assert reasons == ["malformed", "oversized", "unknown version"]


async def test_dead_letters_carry_the_reason(tansu: Tansu, tmp_path: Path) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic = "pricing.quotes"
    settings = Settings(kafka_bootstrap=tansu.bootstrap_servers, data_dir=tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    create_tables(engine, COMMON_TABLES)
    publisher = KafkaPublisher(settings)
    marker = uuid.uuid4().hex.encode()
    await publisher.publish([KafkaRecord(topic, marker, b"garbage", [])])
    consumer = EventConsumer(
        settings=settings,
        engine=engine,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        topics=[topic],
        handlers={catalog_events.ListingRetired.event_type: lambda *_: None},
        publisher=publisher,
    )
    task = asyncio.create_task(consumer.run())
    deadline = time.monotonic() + 60
    while consumer.stats.dead_lettered < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    task.cancel()
    await publisher.stop()
    reader = AIOKafkaConsumer(bootstrap_servers=tansu.bootstrap_servers, enable_auto_commit=False)
    await reader.start()
    try:
        partitions = [
            TopicPartition(f"{topic}.dlq", p)
            for p in reader.partitions_for_topic(f"{topic}.dlq") or {0, 1, 2}
        ]
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        found = []
        end = time.monotonic() + 5
        while time.monotonic() < end and not found:
            for messages in (await reader.getmany(timeout_ms=200)).values():
                found += [m for m in messages if m.key == marker]
    finally:
        await reader.stop()
    assert len(found) == 1
    reason = dict(found[0].headers)[DLQ_REASON_HEADER].decode()
    assert reason.startswith("malformed")


async def test_a_commit_in_a_worker_thread_wakes_the_relay(tmp_path: Path) -> None:
    """Sync endpoints commit in worker threads; their wake must reach the relay's loop.

    The relay polls only once a minute here: a row published at all before that shows
    the wake-up from the other thread was heard.
    """
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    create_tables(engine, COMMON_TABLES)
    published: list[str] = []
    arrived = asyncio.Event()

    async def publish(records: list[KafkaRecord]) -> None:
        published.extend(str(r.key) for r in records)
        arrived.set()

    relay = OutboxRelay(engine, publish, poll_interval_s=60)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.2)  # the relay has looked once and sleeps

        def commit_and_wake() -> None:
            with transaction(engine) as session:
                add_event(session, _snapshot_event(str(uuid.uuid4())), source="/test")
            relay.wake()

        # A plain thread, as a server's worker pool: nothing else wakes the loop.
        worker = threading.Thread(target=commit_and_wake)
        worker.start()
        await asyncio.wait_for(arrived.wait(), timeout=10)
        worker.join()
    finally:
        task.cancel()
    assert len(published) == 1
