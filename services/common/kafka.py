"""Kafka lifecycle: the publisher, the consumer loop and topic creation.

The consumer applies each event in one database transaction together with its
inbox row, commits the offset only after that, retries a failing handler a few
times and then parks the event on ``<topic>.dlq`` with the reason, so one poison
message never stops a partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from services.common.db import transaction
from services.common.events import KafkaRecord, MalformedEvent, from_record
from services.common.faults import CONSUMER_AFTER_EFFECT, FaultInjector
from services.common.inbox import already_processed, record_processed
from services.common.observability import continued_trace
from services.common.settings import Settings
from services.contracts.envelope import Envelope, EventPayload, payload_class
from services.contracts.topics import dead_letter_topic

log = logging.getLogger(__name__)

DLQ_REASON_HEADER = "vndx_dlq_reason"
DLQ_ORIGIN_HEADER = "vndx_dlq_origin"

Handler = Callable[[Session, Envelope, EventPayload], None]


def kafka_security(settings: Settings) -> dict[str, Any]:
    """aiokafka connection options for the listener's security (SASL/SCRAM, TLS)."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    if settings.kafka_security_protocol.endswith("SSL"):
        cafile = settings.kafka_ssl_cafile
        options["ssl_context"] = create_ssl_context(cafile=str(cafile) if cafile else None)
    return options


class KafkaPublisher:
    """A started aiokafka producer that sends batches of records and waits for acks."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._settings.kafka_bootstrap,
                    acks="all",
                    enable_idempotence=self._settings.kafka_idempotence,
                    linger_ms=2,
                    max_request_size=max(self._settings.max_event_bytes * 2, 1_048_576),
                    request_timeout_ms=10_000,
                    **kafka_security(self._settings),
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def ping(self) -> None:
        """Raise unless the broker answers a metadata request."""
        producer = await self._started()
        await producer.client.fetch_all_metadata()

    async def stop(self) -> None:
        async with self._lock:
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None

    async def publish(self, records: list[KafkaRecord]) -> None:
        """Send and wait for every ack; on failure the producer is rebuilt next time."""
        producer = await self._started()
        try:
            futures = [
                await producer.send(
                    record.topic, value=record.value, key=record.key, headers=record.headers
                )
                for record in records
            ]
            await asyncio.gather(*futures)
        except Exception:
            await self.stop()
            raise


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int = 3,
    replication: int = 1,
    *,
    settings: Settings | None = None,
) -> None:
    """Create missing topics; existing ones are left as they are."""
    security = kafka_security(settings) if settings is not None else {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=partitions, replication_factor=replication)
            for name in topics
            if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
    finally:
        await admin.close()


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


class EventConsumer:
    """Consumes topics in a group and applies handled event types exactly once."""

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
        faults: FaultInjector | None = None,
        retry_delay_s: float = 0.2,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._group_id = group_id
        self._topics = topics
        self._handlers = dict(handlers)
        self._publisher = publisher
        self._after_commit = after_commit or (lambda: None)
        self._faults = faults or FaultInjector(settings.fault_injection)
        self._retry_delay_s = retry_delay_s
        self.stats = ConsumerStats()
        self._handled_families = {_family(t) for t in self._handlers}

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
            fetch_max_wait_ms=self._settings.kafka_fetch_max_wait_ms,
            max_partition_fetch_bytes=max(self._settings.max_event_bytes * 2, 1_048_576),
            **kafka_security(self._settings),
        )

    async def run(self) -> None:
        """Consume until cancelled; reconnect with backoff if the broker goes away."""
        delay = 0.5
        while True:
            consumer = self._new_consumer()
            try:
                await consumer.start()
                delay = 0.5
                async for message in consumer:
                    await self._process(message)
                    partition = TopicPartition(message.topic, message.partition)
                    await consumer.commit({partition: message.offset + 1})
                    highwater = consumer.highwater(partition)
                    if highwater is not None:
                        self.stats.lag[(message.topic, message.partition)] = max(
                            highwater - message.offset - 1, 0
                        )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.last_error = repr(exc)
                log.warning("consumer %s lost its broker; reconnecting", self._group_id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):  # closing a broken consumer may fail too
                    await consumer.stop()

    async def _process(self, message: Any) -> None:
        record = KafkaRecord(
            topic=message.topic,
            key=message.key,
            value=message.value or b"",
            headers=list(message.headers or []),
        )
        try:
            envelope = self._admit(record)
            if envelope is None:
                self.stats.skipped += 1
                return
            await self._apply_with_retries(envelope)
        except PoisonEvent as poison:
            await self._dead_letter(record, str(poison), message.partition, message.offset)

    def _admit(self, record: KafkaRecord) -> Envelope | None:
        if len(record.value) > self._settings.max_event_bytes:
            raise PoisonEvent(f"oversized: {len(record.value)} bytes")
        try:
            envelope = from_record(record)
        except MalformedEvent as exc:
            raise PoisonEvent(f"malformed: {exc}") from exc
        if envelope.type in self._handlers:
            return envelope
        if (
            _family(envelope.type) in self._handled_families
            and payload_class(envelope.type) is None
        ):
            raise PoisonEvent(f"unknown version: {envelope.type}")
        return None

    async def _apply_with_retries(self, envelope: Envelope) -> None:
        # Handlers and their logs run in the event's trace; events they add inherit it.
        with continued_trace(envelope.traceparent):
            await self._apply_in_trace(envelope)

    async def _apply_in_trace(self, envelope: Envelope) -> None:
        attempts = self._settings.consumer_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                applied = await asyncio.to_thread(self._apply, envelope)
            except PoisonEvent:
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
            if applied:
                self.stats.applied += 1
                # One line per applied event, in its trace: a purchase can be followed
                # across services by grepping one trace id.
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
                self._after_commit()
            else:
                self.stats.duplicates += 1
            self._faults.maybe_crash(CONSUMER_AFTER_EFFECT)
            return

    def _apply(self, envelope: Envelope) -> bool:
        handler = self._handlers[envelope.type]
        try:
            payload = envelope.payload()
        except ValidationError as exc:
            raise PoisonEvent(
                f"schema: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}"
            ) from exc
        with transaction(self._engine) as session:
            if already_processed(session, self._group_id, envelope.id):
                return False
            handler(session, envelope, payload)
            record_processed(session, self._group_id, envelope.id)
        return True

    async def _dead_letter(
        self, record: KafkaRecord, reason: str, partition: int, offset: int
    ) -> None:
        self.stats.dead_lettered += 1
        self.stats.reasons.append(reason)
        log.error("dead-lettering %s[%d]@%d: %s", record.topic, partition, offset, reason)
        headers = [
            *record.headers,
            (DLQ_REASON_HEADER, reason.encode()[:1000]),
            (DLQ_ORIGIN_HEADER, f"{record.topic}/{partition}/{offset}/{self._group_id}".encode()),
        ]
        await self._publisher.publish(
            [
                KafkaRecord(
                    topic=dead_letter_topic(record.topic),
                    key=record.key,
                    value=record.value[: self._settings.max_event_bytes],
                    headers=headers,
                )
            ]
        )


def _family(event_type: str) -> str:
    """``vn.vndx.x.y.v3`` -> ``vn.vndx.x.y``: the event regardless of its version."""
    head, _, tail = event_type.rpartition(".")
    return head if tail.startswith("v") and tail[1:].isdigit() else event_type
