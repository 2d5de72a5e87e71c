"""The lifecycle of one service process: database, outbox relay, consumers.

A service declares its tables and consumers; ``ServiceRuntime`` starts the relay
and the consumer loops as background tasks in the FastAPI lifespan and stops
them on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, Table, text

from services.common.api import ReadinessCheck
from services.common.consumer import ConsumerStats, EventConsumer, Handler
from services.common.db import create_tables, is_sqlite, make_engine
from services.common.faults import FaultInjector
from services.common.inbox import INBOX_TABLE
from services.common.kafka import KafkaPublisher
from services.common.migrations import upgrade
from services.common.objectstore import ObjectStore
from services.common.outbox import OUTBOX_TABLE, OutboxRelay
from services.common.settings import Settings

log = logging.getLogger(__name__)

COMMON_TABLES: tuple[Table, ...] = (OUTBOX_TABLE, INBOX_TABLE)


@dataclass(frozen=True)
class ConsumerSpec:
    """A consumer group of this service and the event types it applies."""

    group_id: str
    topics: list[str]
    handlers: Mapping[str, Handler]
    #: Nobody waits on these events: the consumer polls the broker less often.
    background: bool = False


class ServiceRuntime:
    """Owns the engine, the publisher, the relay and the consumers of a service."""

    def __init__(
        self,
        settings: Settings,
        tables: Sequence[Table],
        consumers: Sequence[ConsumerSpec] = (),
        engine: Engine | None = None,
        migrations: Path | None = None,
        wake_after_consuming: Sequence[Callable[[], None]] = (),
    ) -> None:
        """``migrations``: the service's Alembic scripts; without them, tables are created.

        Once a consumer commits, each of ``wake_after_consuming`` is woken (work the
        events may have left, such as access's extract builds), and the relay too if
        its handlers staged events.
        """
        self.settings = settings
        self._migrations = migrations
        self.engine = engine or make_engine(settings.resolved_database_url)
        self._tables = [*COMMON_TABLES, *tables]
        self.faults = FaultInjector(settings.fault_injection)
        self.publisher = KafkaPublisher(settings)
        self.relay = OutboxRelay(
            self.engine,
            self.publisher.publish,
            poll_interval_s=settings.outbox_poll_interval_s,
            faults=self.faults,
            read_inline=is_sqlite(self.engine),
        )
        self.consumers = [
            EventConsumer(
                settings=settings,
                engine=self.engine,
                group_id=spec.group_id,
                topics=spec.topics,
                handlers=spec.handlers,
                publisher=self.publisher,
                fetch_max_wait_ms=(
                    settings.kafka_background_fetch_max_wait_ms
                    if spec.background
                    else settings.kafka_fetch_max_wait_ms
                ),
                after_commit=self._after_consuming,
                after_staging=self.relay.wake,
                faults=self.faults,
            )
            for spec in consumers
        ]
        #: Consumers the service runs itself (the audit worker's faust agent): (group, stats).
        self.external_consumers: list[tuple[str, ConsumerStats]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._wake_after_consuming = list(wake_after_consuming)

    def _after_consuming(self) -> None:
        for wake in self._wake_after_consuming:
            wake()

    def consumer_figures(self) -> list[tuple[str, ConsumerStats]]:
        """(group id, stats) of every consumer of this process, for /metrics."""
        own = [(consumer.group_id, consumer.stats) for consumer in self.consumers]
        return [*own, *self.external_consumers]

    def migrate(self) -> None:
        if self._migrations is not None:
            upgrade(self.engine, self._migrations, self.settings.service_name, self._tables)
        else:
            create_tables(self.engine, self._tables)

    async def start(self, *, relay: bool = True, consume: bool = True) -> None:
        self.settings.check_production_secrets()
        await asyncio.to_thread(self.migrate)
        if relay:
            self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        if consume:
            for consumer in self.consumers:
                self._tasks.append(asyncio.create_task(consumer.run(), name="consumer"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # A task that ignores its cancellation must not hold the shutdown forever.
            _, stuck = await asyncio.wait(self._tasks, timeout=10)
            for task in stuck:
                log.warning("task %s did not stop within 10 s", task.get_name())
        self._tasks.clear()
        await self.publisher.stop()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceRuntime]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    def readiness_checks(self, store: ObjectStore | None = None) -> dict[str, ReadinessCheck]:
        """What ``/readyz`` asks: the database, the broker and, if used, the object store."""

        async def broker() -> None:
            await asyncio.wait_for(self.publisher.ping(), timeout=3)

        checks: dict[str, ReadinessCheck] = {"database": self.check_database, "broker": broker}
        if store is not None:

            async def object_store() -> None:
                await asyncio.wait_for(asyncio.to_thread(store.ping), timeout=3)

            checks["object_store"] = object_store
        return checks

    async def check_database(self) -> None:
        def ping() -> None:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        await asyncio.wait_for(asyncio.to_thread(ping), timeout=3)
