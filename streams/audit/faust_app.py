"""The audit worker as a faust-streaming app: one agent feeds the ledger, usage watch and KPIs.

The faust app (consumer group `audit`) subscribes to `access.grants`,
`orders.orders`, `catalog.listings` and `catalog.organisations` and runs one
agent, `audit`, that takes the events in batches (`take_events`) and hands
each batch to `BatchApplier`: one database transaction holds, for every new
event, its inbox row, its ledger record (with the outbox row announcing it),
the usage-watch counters (an alert is another ledger record) and the KPI
windows. The watch and KPI steps run in the ledger agent's transaction rather
than as agents of their own, because an alert takes the next ledger position
and a KPI reads the facts (publisher, theme, provinces) the ledger step has
just stored: separate agents would race on both.

State lives in the audit database, not in faust tables: the embedded broker
keeps topics in memory, so changelog topics would vanish at every restart,
and the ledger must commit atomically with its inbox and outbox rows.

An offset is committed only after the batch holding it has committed in the
database: each event of a batch carries an extra reference until then, so
even if the agent is cancelled mid-batch (shutdown, rebalance) faust cannot
commit past an event that is not stored. A redelivered event is a no-op
through the inbox, so a worker killed mid-stream and restarted leaves no gap
and no duplicate leaf.

Tansu (the embedded broker) completes a group's first join after half the
session timeout; faust's default of 60 s made the first join take ~31 s.
`VNDX_AUDIT_SESSION_TIMEOUT_S` (default 6 s, the smallest a stock Kafka broker
accepts) brings it to ~3 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from aiokafka.helpers import create_ssl_context
from faust import App, SASLCredentials, SSLCredentials  # imported eagerly: ~1 s, not in the loop

from services.common.broker_identity import ClusterWatch, commit_start_of_log, leave_group
from services.common.consumer import ConsumerStats, PoisonEvent, to_the_end
from services.common.events import KafkaRecord
from services.common.faults import CONSUMER_AFTER_EFFECT, FaultInjector
from services.common.kafka import (
    DLQ_ORIGIN_HEADER,
    DLQ_REASON_HEADER,
    KafkaPublisher,
)
from services.common.settings import Settings
from services.contracts.topics import (
    ACCESS_GRANTS,
    CATALOG_LISTINGS,
    CATALOG_ORGANISATIONS,
    ORDERS_ORDERS,
    dead_letter_topic,
)
from streams.audit.batches import Admitted, BatchApplier

log = logging.getLogger(__name__)

AUDIT_TOPICS: tuple[str, ...] = (
    ACCESS_GRANTS,
    ORDERS_ORDERS,
    CATALOG_LISTINGS,
    CATALOG_ORGANISATIONS,
)


def broker_urls(bootstrap: str) -> str:
    """``host1:9092,host2:9092`` -> faust's ``kafka://host1:9092;kafka://host2:9092``."""
    hosts = [host.strip() for host in bootstrap.split(",") if host.strip()]
    return ";".join(f"kafka://{host}" for host in hosts)


def broker_credentials(settings: Settings) -> SASLCredentials | SSLCredentials | None:
    """The listener's security (SASL/SCRAM, TLS) in faust's terms; None for plaintext."""
    protocol = settings.kafka_security_protocol
    context = None
    if protocol.endswith("SSL"):
        cafile = settings.kafka_ssl_cafile
        context = create_ssl_context(cafile=str(cafile) if cafile else None)
    if protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        return SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def faust_settings(settings: Settings, group_id: str) -> dict[str, Any]:
    """The faust App's configuration for the audit worker."""
    session_s = settings.audit_session_timeout_s
    options: dict[str, Any] = {
        "broker": broker_urls(settings.kafka_bootstrap),
        "web_enabled": False,
        "datadir": Path(settings.data_dir) / "faust" / group_id,
        # The leader-assignor topic is only needed by apps with tables; the
        # production ACLs let the audit login create no topic.
        "topic_disable_leader": True,
        "topic_allow_declare": False,
        "consumer_auto_offset_reset": "earliest",
        "broker_session_timeout": session_s,
        "broker_heartbeat_interval": max(session_s / 6, 0.2),
        "broker_rebalance_timeout": session_s,
        "broker_request_timeout": max(30.0, session_s * 2),
        "broker_commit_interval": 1.0,
        "consumer_max_fetch_size": max(settings.max_event_bytes * 2, 1_048_576),
        "stream_recovery_delay": 0.0,
        "producer_max_request_size": max(settings.max_event_bytes * 2, 1_048_576),
    }
    credentials = broker_credentials(settings)
    if credentials is not None:
        options["broker_credentials"] = credentials
    return options


class Delivered(NamedTuple):
    """A record as the broker delivered it, and where from (``topic/partition/offset/group``)."""

    record: KafkaRecord
    origin: str


class AuditWorker:
    """The faust app of the audit worker, started and stopped inside the service's event loop."""

    def __init__(
        self,
        settings: Settings,
        applier: BatchApplier,
        publisher: KafkaPublisher,
        *,
        topics: Sequence[str] = AUDIT_TOPICS,
        after_commit: Callable[[], None] | None = None,
        faults: FaultInjector | None = None,
        retry_delay_s: float = 0.2,
    ) -> None:
        self.settings = settings
        self.applier = applier
        self.publisher = publisher
        self.topics = tuple(topics)
        self._after_commit = after_commit or (lambda: None)
        self._retry_delay_s = retry_delay_s
        self._faults = faults or FaultInjector(settings.fault_injection)
        self.app: App | None = None
        self.joined_after_s: float | None = None
        self._started_at = 0.0
        self._following: asyncio.Task[None] | None = None
        self._restarting = asyncio.Lock()

    @property
    def group_id(self) -> str:
        return self.applier.consumer

    @property
    def stats(self) -> ConsumerStats:
        return self.applier.stats

    def build(self) -> App:
        """A fresh faust App with the `audit` agent (built inside the running loop)."""
        options = faust_settings(self.settings, self.group_id)
        Path(options["datadir"]).mkdir(parents=True, exist_ok=True)
        app = App(self.group_id, **options)
        channel = app.topic(*self.topics, key_serializer="raw", value_serializer="raw")
        batch_max = self.settings.audit_batch_max
        within_s = self.settings.audit_batch_within_s

        async def audit(stream: Any) -> None:
            async for events in stream.take_events(batch_max, within=within_s):
                held = list(events)
                for event in held:  # released only once the batch is stored
                    event.message.incref()
                await self.process([self._delivered(event.message) for event in held])
                for event in held:
                    event.ack()
                self._note_lag(app, held)

        app.agent(channel, name="audit", sink=None)(audit)

        @app.on_partitions_assigned.connect
        async def joined(*_: Any, **__: Any) -> None:
            if self.joined_after_s is None:
                self.joined_after_s = time.monotonic() - self._started_at
                log.info(
                    "audit worker joined group %s in %.1f s", self.group_id, self.joined_after_s
                )

        return app

    async def start(self) -> None:
        self._started_at = time.monotonic()
        await self._start_app()
        self._following = asyncio.create_task(self._follow_the_cluster())

    async def stop(self) -> None:
        if self._following is not None:
            self._following.cancel()
            await asyncio.gather(self._following, return_exceptions=True)
            self._following = None
        async with self._restarting:
            await self._stop_app()

    async def _start_app(self) -> None:
        self.app = self.build()
        await self.app.start()

    async def _stop_app(self) -> None:
        if self.app is not None:
            member = _group_member(self.app)
            await self.app.stop()
            self.app = None
            if member is not None:
                await self._leave_group(member[0])

    async def _follow_the_cluster(self) -> None:
        """Start again from the beginning of every topic when the broker is a new cluster.

        faust keeps each partition's read and committed offsets in memory and
        drops any record below them, so on an emptied broker it would skip the
        new log's first records. A fresh app in a group whose offsets are set
        back to 0 reads them all; the inbox drops those already stored.
        """
        cluster = ClusterWatch(self.publisher.cluster_id)
        while True:
            if await cluster.moved():
                async with self._restarting:
                    await self._stop_app()
                    await self._commit_start_of_log()
                    await self._start_app()
            await asyncio.sleep(cluster.every_s)

    async def _commit_start_of_log(self) -> None:
        while True:
            try:
                await commit_start_of_log(self.settings, self.group_id, self.topics)
                return
            except Exception:  # the new broker is not steady yet: ask again
                log.warning("audit worker could not reset group %s", self.group_id, exc_info=True)
                await asyncio.sleep(self._retry_delay_s)

    async def _leave_group(self, member_id: str) -> None:
        """Make sure the stopped member has left its group.

        Tansu numbers a group's first generation 0, and aiokafka only sends
        LeaveGroup from generation 1 on; faust also closes the client while
        the coordinator is still leaving. Left in the group, the stopped
        member would hold up the next join (or a tool joining with another
        assignor) until the broker drops it, which Tansu was seen not to do
        long after the session timeout.
        """
        try:
            await leave_group(self.settings, self.group_id, [member_id])
        except Exception:  # best effort: a reset sends leftover members away too
            log.warning("audit worker could not leave group %s", self.group_id, exc_info=True)

    def _note_lag(self, app: App, events: Sequence[Any]) -> None:
        """Messages behind each partition's high watermark (for /metrics), once per partition."""
        last_offsets = {event.message.tp: event.message.offset for event in events}
        for tp, offset in last_offsets.items():
            with contextlib.suppress(Exception):  # no watermark yet: keep the last figure
                behind = app.consumer.highwater(tp) - offset - 1
                self.applier.stats.lag[(tp.topic, tp.partition)] = max(behind, 0)

    def _delivered(self, message: Any) -> Delivered:
        origin = f"{message.topic}/{message.partition}/{message.offset}/{self.group_id}"
        return Delivered(_record(message), origin)

    async def process(self, deliveries: Sequence[Delivered]) -> None:
        """Store a batch: admitted events in one transaction; poison on the dead-letter topic.

        Never raises (but for cancellation): an event that fails on its own is parked.
        """
        admitted: list[Admitted] = []
        for record, origin in deliveries:
            try:
                item = self.applier.admit(record, origin)
            except PoisonEvent as poison:
                await self._dead_letter(record, origin, str(poison))
                continue
            if item is None:
                self.applier.stats.skipped += 1
            else:
                admitted.append(item)
        if not admitted:
            return
        try:
            await to_the_end(asyncio.to_thread(self.applier.apply_batch, admitted))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.applier.stats.last_error = repr(exc)
            log.warning("batch of %d failed; applying one by one", len(admitted), exc_info=True)
            for item in admitted:
                await self._apply_alone(item)
        self._after_commit()
        # The crash tests kill the worker here: stored, offsets not yet committed.
        self._faults.maybe_crash(CONSUMER_AFTER_EFFECT)

    async def _apply_alone(self, item: Admitted) -> None:
        attempts = self.settings.consumer_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                await to_the_end(asyncio.to_thread(self.applier.apply_batch, [item]))
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.applier.stats.last_error = repr(exc)
                log.warning(
                    "handler for %s failed (attempt %d/%d)",
                    item.envelope.type,
                    attempt,
                    attempts,
                    exc_info=True,
                )
                if attempt == attempts:
                    await self._dead_letter(
                        item.record, item.origin, f"handler failed {attempts} times: {exc!r}"
                    )
                    return
                await asyncio.sleep(self._retry_delay_s * attempt)

    async def _dead_letter(self, record: KafkaRecord, origin: str, reason: str) -> None:
        self.applier.stats.dead_lettered += 1
        self.applier.stats.reasons.append(reason)
        log.error("dead-lettering an event of %s: %s", record.topic, reason)
        headers = [
            *record.headers,
            (DLQ_REASON_HEADER, reason.encode()[:1000]),
            (DLQ_ORIGIN_HEADER, (origin or f"{record.topic}/-/-/{self.group_id}").encode()),
        ]
        await self.publisher.publish(
            [
                KafkaRecord(
                    topic=dead_letter_topic(record.topic),
                    key=record.key,
                    value=record.value[: self.settings.max_event_bytes],
                    headers=headers,
                )
            ]
        )


def _group_member(app: App) -> tuple[str, int] | None:
    """(member id, generation) of the app's consumer in its group, if it joined."""
    try:
        consumer: Any = app.consumer  # faust keeps the aiokafka consumer in its thread
        coordinator = consumer._thread._consumer._coordinator
        member_id, generation = coordinator.member_id, coordinator.generation
    except AttributeError:
        return None
    if not isinstance(member_id, str) or not member_id or not isinstance(generation, int):
        return None
    return member_id, generation


def _record(message: Any) -> KafkaRecord:
    headers = message.headers or []
    if isinstance(headers, dict):
        headers = list(headers.items())
    return KafkaRecord(
        topic=message.topic,
        key=message.key,
        value=message.value or b"",
        headers=[(name, value or b"") for name, value in headers],
    )
