"""The relay publishes while a writer holds SQLite's lock, and marks what it published later.

Real SQLite files; the publish function stands in for the broker (the relay against
Tansu is proven in tests/integration/test_outbox_and_inbox.py).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import col, select

from services.common.db import create_tables, make_engine, reading, transaction
from services.common.events import KafkaRecord
from services.common.outbox import OutboxRelay, OutboxRow, add_event, backlog, mark_for_replay
from services.common.runtime import COMMON_TABLES, ServiceRuntime
from services.common.settings import Settings
from services.contracts import catalog as catalog_events
from tests.listing_snapshots import bare_snapshot


def _outbox_database(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    create_tables(engine, COMMON_TABLES)
    return engine


class _RecordingBroker:
    """Stands in for the broker: the keys of what was published, in order."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.arrived = asyncio.Event()

    async def publish(self, records: list[KafkaRecord]) -> None:
        self.sent.extend(bytes(record.key or b"").decode() for record in records)
        self.arrived.set()


def _retired(listing_id: str) -> catalog_events.ListingRetired:
    return catalog_events.ListingRetired(
        listing=bare_snapshot(listing_id, org="org-x", status="retired")
    )


def test_a_read_does_not_wait_for_a_writer_and_sees_the_last_commit(tmp_path: Path) -> None:
    engine = _outbox_database(tmp_path)
    with transaction(engine) as session:
        add_event(session, _retired("first"), source="/test")
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with transaction(engine) as session:
            add_event(session, _retired("second"), source="/test")
            session.flush()
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        # Would wait for the writer (and time out the test) if it queued for the lock.
        assert backlog(engine) == 1
        with reading(engine) as session:
            keys = session.exec(select(OutboxRow.key)).all()
        assert keys == ["first"]
    finally:
        release.set()
        thread.join()
    assert backlog(engine) == 2


async def test_rows_go_out_while_their_mark_waits_and_are_never_sent_twice(
    tmp_path: Path,
) -> None:
    engine = _outbox_database(tmp_path)
    broker = _RecordingBroker()
    sent, arrived = broker.sent, broker.arrived
    relay = OutboxRelay(engine, broker.publish, poll_interval_s=0.05)
    first = str(uuid.uuid4())
    with transaction(engine) as session:
        add_event(session, _retired(first), source="/test")
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock
            holding.set()
            release.wait(10)
            connection.rollback()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    task = asyncio.create_task(relay.run())
    try:
        assert await asyncio.to_thread(holding.wait, 10)
        await asyncio.wait_for(arrived.wait(), timeout=10)  # published despite the lock
        for _ in range(10):  # many rounds while the mark cannot be written
            relay.wake()
            await asyncio.sleep(0.05)
        assert sent == [first]
        assert backlog(engine) == 1  # not marked yet: the writer still holds the lock
        release.set()
        for _ in range(200):
            if backlog(engine) == 0:
                break
            await asyncio.sleep(0.05)
        assert backlog(engine) == 0
        second = str(uuid.uuid4())
        with transaction(engine) as session:
            add_event(session, _retired(second), source="/test")
        arrived.clear()
        relay.wake()
        await asyncio.wait_for(arrived.wait(), timeout=10)
    finally:
        release.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(holder.join)
    assert sent == [first, second]
    with reading(engine) as session:
        marked = session.exec(
            select(OutboxRow.key).where(col(OutboxRow.published_at).is_not(None))
        ).all()
    assert sorted(marked) == sorted([first, second])


async def test_a_relay_reading_on_the_event_loop_publishes_in_order_and_marks(
    tmp_path: Path,
) -> None:
    engine = _outbox_database(tmp_path)
    sent: list[str] = []

    async def publish(records: list[KafkaRecord]) -> None:
        sent.extend(bytes(record.key or b"").decode() for record in records)

    relay = OutboxRelay(engine, publish, poll_interval_s=60, read_inline=True)
    keys = [str(uuid.uuid4()) for _ in range(3)]
    task = asyncio.create_task(relay.run())
    try:
        for key in keys:
            with transaction(engine) as session:
                add_event(session, _retired(key), source="/test")
            relay.wake()
        for _ in range(200):
            if len(sent) == len(keys) and backlog(engine) == 0:
                break
            await asyncio.sleep(0.05)
        assert sent == keys
        assert backlog(engine) == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        engine.dispose()


async def test_a_replay_asked_for_while_a_mark_waits_publishes_the_row_again(
    tmp_path: Path,
) -> None:
    # An operator replays the outbox right after the broker lost what the relay had
    # just published: the relay's mark, written later, must not cancel the replay.
    engine = _outbox_database(tmp_path)
    broker = _RecordingBroker()
    sent, arrived = broker.sent, broker.arrived
    relay = OutboxRelay(engine, broker.publish, poll_interval_s=0.05, mark_every_s=0.5)
    key = str(uuid.uuid4())
    with transaction(engine) as session:
        add_event(session, _retired(key), source="/test")
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(arrived.wait(), timeout=10)
        assert mark_for_replay(engine, datetime(1970, 1, 1, tzinfo=UTC)) == 1
        for _ in range(200):
            if len(sent) == 2 and backlog(engine) == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert sent == [key, key]
    assert backlog(engine) == 0


def test_a_service_on_sqlite_reads_its_outbox_on_the_event_loop(tmp_path: Path) -> None:
    runtime = ServiceRuntime(Settings(data_dir=tmp_path), tables=[])
    assert runtime.relay.read_inline
