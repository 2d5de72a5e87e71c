"""The event consumer applies a batch at a time, on the real broker and databases.

Each test has its own one-partition topic (and its dead-letter topic) and puts
its events there before the consumer starts, so that they arrive as one batch.
The handler writes one row per event into a plain table; a row counted twice is
an event applied twice.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import Engine, text
from sqlmodel import Session

from services.common.consumer import EventConsumer, Handler
from services.common.db import create_tables, make_engine
from services.common.events import KafkaRecord, to_record
from services.common.faults import CONSUMER_AFTER_EFFECT
from services.common.kafka import (
    DLQ_ORIGIN_HEADER,
    DLQ_REASON_HEADER,
    KafkaPublisher,
    ensure_topics,
)
from services.common.observability import current_traceparent, new_traceparent, trace_id_of
from services.common.outbox import add_event, backlog
from services.common.runtime import COMMON_TABLES
from services.common.settings import Settings
from services.contracts import catalog as catalog_events
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.topics import dead_letter_topic
from tests.integration.kafka_probe import committed_offsets
from vndx.embedded import Tansu

RETIRED = catalog_events.ListingRetired.event_type


def _retired(listing_id: str) -> EventPayload:
    return catalog_events.ListingRetired(
        listing=catalog_events.ListingSnapshot(
            listing_id=listing_id,
            org="org-x",
            status="retired",
            title_vi="t",
            title_en="t",
            theme="population",
            provinces=[],
            update_frequency="once",
            products=["download"],
            list_price=None,
            columns=[],
            latest_version=None,
        )
    )


def _events(count: int) -> list[Envelope]:
    return [
        Envelope.wrap(_retired(str(uuid.uuid4())), source="/test", traceparent=new_traceparent())
        for _ in range(count)
    ]


def _engine(url: str) -> Engine:
    engine = make_engine(url)
    create_tables(engine, COMMON_TABLES)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS effect "
                "(event_id VARCHAR(64) NOT NULL, trace_id VARCHAR(32))"
            )
        )
    return engine


def _record_effect(session: Session, envelope: Envelope, _: EventPayload) -> None:
    session.execute(
        text("INSERT INTO effect (event_id, trace_id) VALUES (:event_id, :trace_id)"),
        {"event_id": envelope.id, "trace_id": trace_id_of(current_traceparent())},
    )


def _effects(engine: Engine) -> list[tuple[str, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT event_id, trace_id FROM effect")).all()
    return [(row[0], row[1]) for row in rows]


def _fresh_topic(bootstrap: str) -> str:
    topic = f"test.batches.{uuid.uuid4().hex[:10]}"
    asyncio.run(ensure_topics(bootstrap, [topic, dead_letter_topic(topic)], partitions=1))
    return topic


def _settings(tansu: Tansu, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(  # type: ignore[arg-type]
        kafka_bootstrap=tansu.bootstrap_servers, data_dir=tmp_path, **extra
    )


class CountedCommits(EventConsumer):
    """An event consumer that notes each offset commit it sends to the broker."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commits: list[dict[TopicPartition, int]] = []
        self.committed = asyncio.Event()

    def _new_consumer(self) -> AIOKafkaConsumer:
        consumer = super()._new_consumer()
        send = consumer.commit

        async def commit(offsets: dict[TopicPartition, int]) -> None:
            await send(offsets)
            self.commits.append(dict(offsets))
            self.committed.set()

        consumer.commit = commit  # type: ignore[method-assign]
        return consumer


_Consumer = TypeVar("_Consumer", bound=EventConsumer)


def _consumer_of(
    kind: type[_Consumer],
    topic: str,
    settings: Settings,
    engine: Engine,
    publisher: KafkaPublisher,
    *,
    handler: Handler = _record_effect,
    group: str | None = None,
    **options: Any,
) -> _Consumer:
    """A consumer of ``topic`` alone, handling its retirements, in a fresh group by default."""
    return kind(
        settings=settings,
        engine=engine,
        group_id=group or f"test-{uuid.uuid4().hex[:8]}",
        topics=[topic],
        handlers={RETIRED: handler},
        publisher=publisher,
        **options,
    )


async def _run_until(consumer: EventConsumer, done: Callable[[], bool], within_s: float) -> None:
    task = asyncio.create_task(consumer.run())
    try:
        deadline = time.monotonic() + within_s
        while not done():
            assert not task.done(), task
            assert time.monotonic() < deadline, consumer.stats
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _dead_letters(bootstrap: str, topic: str, count: int) -> list[Any]:
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        partition = TopicPartition(dead_letter_topic(topic), 0)
        reader.assign([partition])
        await reader.seek_to_beginning(partition)
        found: list[Any] = []
        deadline = time.monotonic() + 10
        while len(found) < count and time.monotonic() < deadline:
            for messages in (await reader.getmany(timeout_ms=200)).values():
                found += messages
        return found
    finally:
        await reader.stop()


@pytest.fixture
def applied_lines() -> Iterator[list[tuple[str, str | None]]]:
    """(event id, trace id) of every "applied" log line, as the log handlers see it."""
    lines: list[tuple[str, str | None]] = []

    class Note(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("applied "):
                fields = getattr(record, "fields", {})
                lines.append((fields["event_id"], trace_id_of(current_traceparent())))

    logger = logging.getLogger("services.common.consumer")
    handler, level = Note(level=logging.INFO), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_batch_is_applied_in_full_with_one_offset_commit(
    tansu: Tansu,
    tmp_path: Path,
    database_url: str,
    applied_lines: list[tuple[str, str | None]],
) -> None:
    topic = _fresh_topic(tansu.bootstrap_servers)
    settings = _settings(tansu, tmp_path)
    engine = _engine(database_url)
    events, quiet = _events(150), _events(5)
    wakes: list[int] = []
    relay_wakes: list[int] = []

    def record_and_stage_one(session: Session, envelope: Envelope, payload: EventPayload) -> None:
        _record_effect(session, envelope, payload)
        if envelope.id == events[3].id:
            add_event(session, payload, source="/test")

    async def scenario() -> CountedCommits:
        publisher = KafkaPublisher(settings)
        # The same event twice in the batch (a redelivery): applied once.
        await publisher.publish(
            [to_record(topic, envelope) for envelope in events] + [to_record(topic, events[7])]
        )
        consumer = _consumer_of(
            CountedCommits,
            topic,
            settings,
            engine,
            publisher,
            handler=record_and_stage_one,
            after_commit=lambda: wakes.append(1),
            after_staging=lambda: relay_wakes.append(1),
        )
        first_commits: list[dict[TopicPartition, int]] = []

        async def then_a_quiet_batch() -> None:
            await consumer.committed.wait()
            await asyncio.sleep(0.5)  # time for a stray second commit to show
            first_commits.extend(consumer.commits)
            # A second batch whose handlers stage nothing: no reason to wake the relay.
            await publisher.publish([to_record(topic, envelope) for envelope in quiet])

        try:
            quiet_batch = asyncio.create_task(then_a_quiet_batch())
            await _run_until(consumer, lambda: len(consumer.commits) > 1, within_s=60)
            await quiet_batch
            consumer.commits = first_commits
        finally:
            await publisher.stop()
        return consumer

    consumer = asyncio.run(scenario())
    assert consumer.commits == [{TopicPartition(topic, 0): len(events) + 1}]
    effects = _effects(engine)
    assert sorted(effects) == sorted((e.id, trace_id_of(e.traceparent)) for e in events + quiet)
    assert (consumer.stats.applied, consumer.stats.duplicates) == (len(events + quiet), 1)
    assert consumer.stats.lag == {(topic, 0): 0}
    assert wakes == [1, 1], "woken once for each batch"
    assert relay_wakes == [1], "the relay is woken for the batch that staged an event only"
    assert backlog(engine) == 1
    # One log line per applied event, in that event's trace.
    assert sorted(applied_lines) == sorted(effects)


def test_batches_in_quick_succession_share_one_offset_commit_and_a_stop_commits_the_rest(
    tansu: Tansu, tmp_path: Path, database_url: str
) -> None:
    topic = _fresh_topic(tansu.bootstrap_servers)
    partition = TopicPartition(topic, 0)
    settings = _settings(tansu, tmp_path, kafka_commit_interval_ms=3000)
    engine = _engine(database_url)
    first, second, last = _events(10), _events(5), _events(3)
    group = f"test-{uuid.uuid4().hex[:8]}"

    async def until(what: str, done: Callable[[], bool], task: asyncio.Task[None]) -> None:
        deadline = time.monotonic() + 30
        while not done():
            assert not task.done(), task
            assert time.monotonic() < deadline, f"waited in vain for {what}"
            await asyncio.sleep(0.02)

    async def scenario() -> tuple[list[dict[TopicPartition, int]], list[int], int | None]:
        publisher = KafkaPublisher(settings)
        consumer = _consumer_of(CountedCommits, topic, settings, engine, publisher, group=group)
        seen_at_second_batch: list[int] = []
        await publisher.publish([to_record(topic, e) for e in first])
        task = asyncio.create_task(consumer.run())
        try:
            # The first batch after a quiet spell is committed at once.
            await until("the first commit", lambda: len(consumer.commits) == 1, task)
            await publisher.publish([to_record(topic, e) for e in second])
            await until("the second batch", lambda: consumer.stats.applied == 15, task)
            seen_at_second_batch.append(len(consumer.commits))
            # No record comes after it, and its offset is committed all the same.
            await until("the due commit", lambda: len(consumer.commits) == 2, task)
            await publisher.publish([to_record(topic, e) for e in last])
            await until("the last batch", lambda: consumer.stats.applied == 18, task)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await publisher.stop()
        stored = await committed_offsets(tansu.bootstrap_servers, group, [partition])
        return consumer.commits, seen_at_second_batch, stored[partition]

    commits, seen_at_second_batch, stored = asyncio.run(scenario())
    assert seen_at_second_batch == [1], "the second batch waits for the commit interval"
    assert commits == [{partition: 10}, {partition: 15}, {partition: 18}]
    assert stored == 18, "a stopping consumer commits what it applied"
    assert len(_effects(engine)) == 18


def test_a_poison_event_in_a_batch_is_parked_and_its_neighbours_applied_once(
    tansu: Tansu, tmp_path: Path, database_url: str
) -> None:
    topic = _fresh_topic(tansu.bootstrap_servers)
    settings = _settings(tansu, tmp_path, consumer_max_attempts=2)
    engine = _engine(database_url)
    before, poison, after = _events(20), _events(1)[0], _events(20)
    malformed = KafkaRecord(topic, b"m", b"{not json", [("ce_id", b"x")])

    def handler(session: Session, envelope: Envelope, payload: EventPayload) -> None:
        _record_effect(session, envelope, payload)  # written, then rolled back
        if envelope.id == poison.id:
            raise RuntimeError("this event cannot be applied")

    async def scenario() -> EventConsumer:
        publisher = KafkaPublisher(settings)
        await publisher.publish(
            [to_record(topic, e) for e in before[:10]]
            + [malformed]
            + [to_record(topic, e) for e in before[10:]]
            + [to_record(topic, poison)]
            + [to_record(topic, e) for e in after]
        )
        consumer = _consumer_of(
            EventConsumer, topic, settings, engine, publisher, handler=handler, retry_delay_s=0.01
        )
        try:
            await _run_until(consumer, lambda: consumer.stats.dead_lettered >= 2, within_s=60)
        finally:
            await publisher.stop()
        return consumer

    consumer = asyncio.run(scenario())
    assert sorted(event_id for event_id, _ in _effects(engine)) == sorted(
        e.id for e in before + after
    )
    assert consumer.stats.applied == len(before + after)
    letters = asyncio.run(_dead_letters(tansu.bootstrap_servers, topic, 2))
    reasons = [dict(letter.headers)[DLQ_REASON_HEADER].decode() for letter in letters]
    assert [reason.split(":")[0] for reason in reasons] == ["malformed", "handler failed 2 times"]
    assert "this event cannot be applied" in reasons[1]
    origins = [dict(letter.headers)[DLQ_ORIGIN_HEADER].decode() for letter in letters]
    assert [origin.split("/")[2] for origin in origins] == ["10", "21"]
    assert letters[1].value == to_record(topic, poison).value


def _consume_until_killed(
    bootstrap: str, database_url: str, topic: str, group: str, data_dir: Path
) -> None:
    """A consumer process armed to die right after its first batch is committed."""
    settings = Settings(
        kafka_bootstrap=bootstrap, data_dir=data_dir, fault_injection=CONSUMER_AFTER_EFFECT
    )
    consumer = _consumer_of(
        EventConsumer,
        topic,
        settings,
        make_engine(database_url),
        KafkaPublisher(settings),
        group=group,
    )
    asyncio.run(consumer.run())


def test_a_batch_replayed_after_a_crash_adds_nothing(tansu: Tansu, tmp_path: Path) -> None:
    topic = _fresh_topic(tansu.bootstrap_servers)
    settings = _settings(tansu, tmp_path)
    url = f"sqlite:///{tmp_path / 'consumer.db'}"
    engine = _engine(url)
    events = _events(60)
    group = f"test-{uuid.uuid4().hex[:8]}"

    async def publish() -> None:
        publisher = KafkaPublisher(settings)
        try:
            await publisher.publish([to_record(topic, e) for e in events])
        finally:
            await publisher.stop()

    asyncio.run(publish())
    # Killed (SIGKILL) after the batch's transaction, before its offsets are committed.
    process = multiprocessing.get_context("spawn").Process(
        target=_consume_until_killed, args=(tansu.bootstrap_servers, url, topic, group, tmp_path)
    )
    process.start()
    process.join(timeout=90)
    if process.is_alive():
        process.kill()
    assert process.exitcode == -signal.SIGKILL, "the fault point never fired"
    assert sorted(event_id for event_id, _ in _effects(engine)) == sorted(e.id for e in events)

    async def replay() -> CountedCommits:
        publisher = KafkaPublisher(settings)
        consumer = _consumer_of(CountedCommits, topic, settings, engine, publisher, group=group)
        try:
            await _run_until(consumer, lambda: bool(consumer.commits), within_s=90)
        finally:
            await publisher.stop()
        return consumer

    consumer = asyncio.run(replay())
    # The whole batch came again (no offset had been committed) and changed nothing.
    assert (consumer.stats.applied, consumer.stats.duplicates) == (0, len(events))
    assert consumer.commits == [{TopicPartition(topic, 0): len(events)}]
    assert sorted(event_id for event_id, _ in _effects(engine)) == sorted(e.id for e in events)


def test_a_broker_that_comes_back_empty_is_read_from_the_start(tmp_path: Path) -> None:
    """The broker restarts empty while a batch is being applied: no event of its new log is lost.

    The consumer's position (10) is a valid offset of the new log once 15 events
    are on it; read from there, the new log's first ten events would be skipped,
    and committing 10 to the new broker would make the skip permanent. The
    database plays no part here, so SQLite alone is enough.
    """
    broker = Tansu(tmp_path / "tansu.log")
    broker.start()
    try:
        topic = _fresh_topic(broker.bootstrap_servers)
        settings = _settings(broker, tmp_path)
        engine = _engine(f"sqlite:///{tmp_path / 'effects.db'}")
        before, after = _events(10), _events(15)
        inside, release = threading.Event(), threading.Event()

        def held_on_the_last(session: Session, envelope: Envelope, payload: EventPayload) -> None:
            if envelope.id == before[-1].id and not release.is_set():
                inside.set()
                release.wait(60)
            _record_effect(session, envelope, payload)

        async def scenario() -> None:
            first = KafkaPublisher(settings)
            await first.publish([to_record(topic, envelope) for envelope in before])
            consumer = _consumer_of(
                EventConsumer, topic, settings, engine, first, handler=held_on_the_last
            )

            async def empty_the_broker_mid_batch() -> None:
                assert await asyncio.to_thread(inside.wait, 30), consumer.stats
                old_cluster = broker.cluster_id
                await asyncio.to_thread(broker.stop)
                await asyncio.to_thread(broker.start)
                assert broker.cluster_id != old_cluster
                await ensure_topics(broker.bootstrap_servers, [topic, dead_letter_topic(topic)], 1)
                second = KafkaPublisher(settings)
                await second.publish([to_record(topic, envelope) for envelope in after])
                await second.stop()
                release.set()

            wanted = {envelope.id for envelope in before + after}
            try:
                await asyncio.gather(
                    _run_until(
                        consumer,
                        # Not read while the batch holds the write lock.
                        lambda: (
                            release.is_set()
                            and {event_id for event_id, _ in _effects(engine)} == wanted
                        ),
                        within_s=60,
                    ),
                    empty_the_broker_mid_batch(),
                )
            finally:
                release.set()
                await first.stop()

        asyncio.run(scenario())
        applied = [event_id for event_id, _ in _effects(engine)]
        assert len(applied) == len(set(applied)) == 25
    finally:
        broker.stop()
