"""The consumer loop: events applied exactly once, a batch at a time.

The consumer takes records a batch at a time, applies the batch's events in one
database transaction together with their inbox rows and commits the batch's
offsets only after that. If the transaction fails it applies the events one by
one, retries a failing handler a few times and then parks the event on
``<topic>.dlq`` with the reason, so one poison message never stops a partition
nor holds back its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from services.common.broker_identity import ClusterWatch
from services.common.db import transaction
from services.common.events import KafkaRecord, MalformedEvent, from_record
from services.common.faults import CONSUMER_AFTER_EFFECT, FaultInjector
from services.common.inbox import processed_among, record_all_processed
from services.common.kafka import (
    DLQ_ORIGIN_HEADER,
    DLQ_REASON_HEADER,
    KafkaPublisher,
    kafka_security,
)
from services.common.observability import CURRENT_TRACEPARENT, continued_trace
from services.common.outbox import has_staged_events
from services.common.settings import Settings
from services.contracts.envelope import Envelope, EventPayload, payload_class
from services.contracts.topics import dead_letter_topic

log = logging.getLogger(__name__)

#: How long one poll waits for records when there are none (it returns at the first).
POLL_TIMEOUT_MS = 1000
#: How long a stopping consumer tries to commit what it applied.
SHUTDOWN_COMMIT_S = 2.0

_T = TypeVar("_T")

Handler = Callable[[Session, Envelope, EventPayload], None]


@dataclass
class ConsumerStats:
    """What a consumer has done since it started (for tests and /metrics)."""

    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    last_error: str | None = None
    reasons: list[str] = field(default_factory=list)
    lag: dict[tuple[str, int], int] = field(default_factory=dict)


class PoisonEvent(Exception):
    """An event that can never be applied; it goes to the dead-letter topic."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commits what was applied of partitions taken away; with ``rewind``, seeks the
    partitions of the consumer's first assignment to the start of their log."""

    def __init__(self, owner: EventConsumer, consumer: AIOKafkaConsumer, *, rewind: bool) -> None:
        self._owner = owner
        self._consumer = consumer
        self._rewind = rewind

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        try:
            await self._owner.commit_applied(self._consumer, only=set(revoked))
        except Exception:  # the next owner sees those events again; its inbox skips them
            log.info("could not commit the offsets of revoked partitions", exc_info=True)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if assigned and self._rewind:
            self._rewind = False
            await self._consumer.seek_to_beginning(*assigned)
            self._owner.rewound()


@dataclass(frozen=True)
class _Handled:
    """An admitted event of a batch, with the record it came in and where from."""

    position: int
    """Its place in the batch, so that dead letters keep the order of the records."""
    record: KafkaRecord
    partition: int
    offset: int
    envelope: Envelope
    payload: EventPayload


@dataclass(frozen=True)
class _DeadLetter:
    position: int
    record: KafkaRecord
    partition: int
    offset: int
    reason: str


#: Events applied by one transaction, each with the span its handler ran in.
_Applied = list[tuple[Envelope, str]]


def group_session(settings: Settings) -> dict[str, int]:
    """How long the broker keeps a silent member, and how often the member speaks up."""
    session_ms = settings.kafka_session_timeout_ms
    return {"session_timeout_ms": session_ms, "heartbeat_interval_ms": session_ms // 3}


class EventConsumer:
    """Consumes topics in a group and applies handled event types exactly once.

    Records come a batch at a time (at most ``kafka_consumer_batch_max``). The
    handled events of a batch are applied in one transaction with their inbox
    rows, poison goes to the dead-letter topic, and then the offsets of the
    batches applied are committed together, at most every ``kafka_commit_interval_ms``.
    A batch whose transaction fails is applied again one event at a time, with
    retries, so only the event that keeps failing is parked.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        group_id: str,
        topics: list[str],
        handlers: Mapping[str, Handler],
        publisher: KafkaPublisher,
        after_commit: Callable[[], None] | None = None,
        after_staging: Callable[[], None] | None = None,
        faults: FaultInjector | None = None,
        retry_delay_s: float = 0.2,
        fetch_max_wait_ms: int | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._group_id = group_id
        self._topics = topics
        self._handlers = dict(handlers)
        self._publisher = publisher
        self._after_commit = after_commit or (lambda: None)
        self._after_staging = after_staging or (lambda: None)
        self._staged = False  # whether handlers staged events since the last _committed
        self._faults = faults or FaultInjector(settings.fault_injection)
        self._retry_delay_s = retry_delay_s
        self.fetch_max_wait_ms = fetch_max_wait_ms or settings.kafka_fetch_max_wait_ms
        self.stats = ConsumerStats()
        self._handled_families = {_family(t) for t in self._handlers}
        self._rewind_pending = False
        self._commit_interval_s = settings.kafka_commit_interval_ms / 1000
        #: Offsets of batches applied and not committed yet (by the current consumer).
        self._applied: dict[TopicPartition, int] = {}
        self._last_commit = 0.0

    def rewound(self) -> None:
        self._rewind_pending = False

    @property
    def group_id(self) -> str:
        return self._group_id

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._settings.kafka_bootstrap,
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            **group_session(self._settings),
            max_partition_fetch_bytes=max(self._settings.max_event_bytes * 2, 1_048_576),
            **kafka_security(self._settings),
        )

    async def run(self) -> None:
        """Consume until cancelled; reconnect with backoff if the broker goes away.

        A broker that comes back as a new cluster (emptied) is read from the
        start of every partition this consumer is given next.
        """
        delay = 0.5
        cluster = ClusterWatch(self._publisher.cluster_id)
        while True:
            consumer = self._new_consumer()
            # Offsets applied on a broker that went away are never committed to its successor.
            self._applied = {}
            rebalance = _Rebalance(self, consumer, rewind=self._rewind_pending)
            consumer.subscribe(self._topics, listener=rebalance)
            try:
                await consumer.start()
                delay = 0.5
                while not await cluster.moved():
                    # Returns as soon as anything is fetched: a batch never waits to fill.
                    batch = await consumer.getmany(
                        timeout_ms=self._poll_timeout_ms(),
                        max_records=self._settings.kafka_consumer_batch_max,
                    )
                    if batch:
                        await self._consume(consumer, batch)
                    if self._commit_due():
                        await self.commit_applied(consumer)
                self._rewind_pending = True
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):  # a stop on a dead broker may not wait
                    await asyncio.wait_for(self.commit_applied(consumer), SHUTDOWN_COMMIT_S)
                raise
            except Exception as exc:
                self.stats.last_error = repr(exc)
                log.warning("consumer %s lost its broker; reconnecting", self._group_id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):  # closing a broken consumer may fail too
                    await consumer.stop()

    def _commit_left_s(self) -> float:
        return self._last_commit + self._commit_interval_s - time.monotonic()

    def _commit_due(self) -> bool:
        return bool(self._applied) and self._commit_left_s() <= 0

    def _poll_timeout_ms(self) -> int:
        """Wait no longer than the applied offsets may stay uncommitted."""
        if not self._applied:
            return POLL_TIMEOUT_MS
        return max(1, min(POLL_TIMEOUT_MS, int(self._commit_left_s() * 1000) + 1))

    async def commit_applied(
        self, consumer: AIOKafkaConsumer, only: set[TopicPartition] | None = None
    ) -> None:
        """Commit the offsets of the batches applied so far (of ``only`` these partitions).

        Each offset is tried once. One whose commit failed, or whose partition a
        rebalance took away while its batch was applied, is dropped: whoever reads that
        partition next sees those events again, and the inbox skips them.
        """
        taken = list(self._applied) if only is None else only & self._applied.keys()
        assigned = consumer.assignment()
        offsets = {p: self._applied.pop(p) for p in taken}
        offsets = {p: offset for p, offset in offsets.items() if p in assigned}
        if not offsets:
            return
        self._last_commit = time.monotonic()
        await consumer.commit(offsets)

    async def _consume(
        self, consumer: AIOKafkaConsumer, batch: Mapping[TopicPartition, list[Any]]
    ) -> None:
        """Apply a batch and note its offsets, committed with the next commit due.

        Offsets are committed only after the effects; committing at most every
        ``kafka_commit_interval_ms`` while records keep coming spares the broker a
        request per batch, and a crash in between only redelivers events the inbox skips.
        """
        await self._process_batch([message for messages in batch.values() for message in messages])
        for partition, messages in batch.items():
            if not messages:
                continue
            self._applied[partition] = messages[-1].offset + 1
            highwater = consumer.highwater(partition)
            if highwater is not None:
                self.stats.lag[(partition.topic, partition.partition)] = max(
                    highwater - messages[-1].offset - 1, 0
                )

    async def _process_batch(self, messages: list[Any]) -> None:
        letters: list[_DeadLetter] = []
        handled: list[_Handled] = []
        for position, message in enumerate(messages):
            record = KafkaRecord(
                topic=message.topic,
                key=message.key,
                value=message.value or b"",
                headers=list(message.headers or []),
            )
            try:
                admitted = self._admit(record)
            except PoisonEvent as poison:
                letters.append(
                    _DeadLetter(position, record, message.partition, message.offset, str(poison))
                )
                continue
            if admitted is None:
                self.stats.skipped += 1
            else:
                envelope, payload = admitted
                handled.append(
                    _Handled(position, record, message.partition, message.offset, envelope, payload)
                )
        if handled:
            letters += await self._apply_handled(handled)
            # The crash tests kill the process here: effects committed, offsets not yet.
            self._faults.maybe_crash(CONSUMER_AFTER_EFFECT)
        if letters:
            await self._dead_letter(sorted(letters, key=lambda letter: letter.position))

    def _admit(self, record: KafkaRecord) -> tuple[Envelope, EventPayload] | None:
        """The event and its payload if this group handles it; None if not; else PoisonEvent."""
        if len(record.value) > self._settings.max_event_bytes:
            raise PoisonEvent(f"oversized: {len(record.value)} bytes")
        try:
            envelope = from_record(record)
        except MalformedEvent as exc:
            raise PoisonEvent(f"malformed: {exc}") from exc
        if envelope.type in self._handlers:
            return envelope, _payload(envelope)
        if (
            _family(envelope.type) in self._handled_families
            and payload_class(envelope.type) is None
        ):
            raise PoisonEvent(f"unknown version: {envelope.type}")
        return None

    async def _apply_handled(self, handled: list[_Handled]) -> list[_DeadLetter]:
        """Apply the batch's events in one transaction, or one by one if it fails.

        Returns the events that had to be given up (handler failed every attempt).
        """
        try:
            applied, duplicates = await to_the_end(
                asyncio.to_thread(
                    self._apply_batch, [(item.envelope, item.payload) for item in handled]
                )
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.stats.last_error = repr(exc)
            log.warning(
                "a batch of %d events failed; applying them one by one",
                len(handled),
                exc_info=True,
            )
            return await self._apply_one_by_one(handled)
        self._note_applied(applied, duplicates)
        if applied:
            self._committed()
        return []

    async def _apply_one_by_one(self, handled: list[_Handled]) -> list[_DeadLetter]:
        given_up: list[_DeadLetter] = []
        any_applied = False
        for item in handled:
            try:
                any_applied |= await self._apply_with_retries(item.envelope, item.payload)
            except PoisonEvent as poison:
                given_up.append(
                    _DeadLetter(
                        item.position, item.record, item.partition, item.offset, str(poison)
                    )
                )
        if any_applied:
            self._committed()
        return given_up

    def _committed(self) -> None:
        self._after_commit()
        if self._staged:
            # Most events consumed stage nothing: the relay is not sent to look for them.
            self._staged = False
            self._after_staging()

    async def _apply_with_retries(
        self, envelope: Envelope, payload: EventPayload | None = None
    ) -> bool:
        """Apply one event in its own transaction; PoisonEvent once every attempt failed."""
        if payload is None:
            payload = _payload(envelope)
        # Its retries are logged in the event's trace too.
        with continued_trace(envelope.traceparent):
            return await self._retry(envelope, payload)

    async def _retry(self, envelope: Envelope, payload: EventPayload) -> bool:
        attempts = self._settings.consumer_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                applied, duplicates = await to_the_end(
                    asyncio.to_thread(self._apply_batch, [(envelope, payload)])
                )
            except PoisonEvent:
                raise
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.last_error = repr(exc)
                log.warning(
                    "handler for %s failed (attempt %d/%d)",
                    envelope.type,
                    attempt,
                    attempts,
                    exc_info=True,
                )
                if attempt == attempts:
                    raise PoisonEvent(f"handler failed {attempts} times: {exc!r}") from exc
                await asyncio.sleep(self._retry_delay_s * attempt)
                continue
            self._note_applied(applied, duplicates)
            return bool(applied)
        return False

    def _apply_batch(self, events: list[tuple[Envelope, EventPayload]]) -> tuple[_Applied, int]:
        """Apply events not yet in the inbox, all in one transaction (in a worker thread).

        Returns the events applied, each with its handler's span, and how many were
        duplicates (already applied, or earlier in the same batch).
        """
        applied: _Applied = []
        duplicates = 0
        with transaction(self._engine) as session:
            seen = processed_among(session, self._group_id, [e.id for e, _ in events])
            for envelope, payload in events:
                if envelope.id in seen:
                    duplicates += 1
                    continue
                seen.add(envelope.id)
                # Handlers and their logs run in the event's trace; events they add inherit it.
                with continued_trace(envelope.traceparent) as span:
                    self._handlers[envelope.type](session, envelope, payload)
                applied.append((envelope, span))
            record_all_processed(session, self._group_id, [e.id for e, _ in applied])
            staged = has_staged_events(session)
        self._staged |= staged
        return applied, duplicates

    def _note_applied(self, applied: _Applied, duplicates: int) -> None:
        """Count a committed transaction's events and log each applied one in its span."""
        self.stats.applied += len(applied)
        self.stats.duplicates += duplicates
        for envelope, span in applied:
            # One line per applied event, in its trace: a purchase can be followed
            # across services by grepping one trace id.
            token = CURRENT_TRACEPARENT.set(span)
            try:
                log.info(
                    "applied %s",
                    envelope.type,
                    extra={
                        "fields": {
                            "event_type": envelope.type,
                            "event_id": envelope.id,
                            "subject": envelope.subject,
                            "group": self._group_id,
                        }
                    },
                )
            finally:
                CURRENT_TRACEPARENT.reset(token)

    async def _dead_letter(self, letters: list[_DeadLetter]) -> None:
        """Park records on their topics' dead-letter topics, in one publish, in order."""
        parked: list[KafkaRecord] = []
        for letter in letters:
            record = letter.record
            self.stats.dead_lettered += 1
            self.stats.reasons.append(letter.reason)
            log.error(
                "dead-lettering %s[%d]@%d: %s",
                record.topic,
                letter.partition,
                letter.offset,
                letter.reason,
            )
            origin = f"{record.topic}/{letter.partition}/{letter.offset}/{self._group_id}"
            parked.append(
                KafkaRecord(
                    topic=dead_letter_topic(record.topic),
                    key=record.key,
                    value=record.value[: self._settings.max_event_bytes],
                    headers=[
                        *record.headers,
                        (DLQ_REASON_HEADER, letter.reason.encode()[:1000]),
                        (DLQ_ORIGIN_HEADER, origin.encode()),
                    ],
                )
            )
        await self._publisher.publish(parked)


def _payload(envelope: Envelope) -> EventPayload:
    try:
        return envelope.payload()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PoisonEvent(f"schema: {first['msg']} at {first['loc']}") from exc


async def to_the_end(work: Awaitable[_T]) -> _T:
    """Await ``work``; if cancelled meanwhile, let it finish first, then re-raise.

    A transaction in a worker thread cannot be stopped halfway; waiting for it keeps
    a shutdown from racing its commit (or disposing the engine under it).
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


def _family(event_type: str) -> str:
    """``vn.vndx.x.y.v3`` -> ``vn.vndx.x.y``: the event regardless of its version."""
    head, _, tail = event_type.rpartition(".")
    return head if tail.startswith("v") and tail[1:].isdigit() else event_type
