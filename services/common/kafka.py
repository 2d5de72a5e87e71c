"""Kafka plumbing shared by every service: the publisher, topic creation, security.

The consumer loop that applies events lives in ``services.common.consumer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.metadata import MetadataRequest

from services.common.events import KafkaRecord
from services.common.settings import Settings

log = logging.getLogger(__name__)

DLQ_REASON_HEADER = "vndx_dlq_reason"
DLQ_ORIGIN_HEADER = "vndx_dlq_origin"


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
                    linger_ms=0,  # the relay already sends rows in batches
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

    async def cluster_id(self) -> str | None:
        """The id of the cluster the broker belongs to (None from a broker too old to say)."""
        producer = await self._started()
        client = producer.client
        try:
            response = await client.send(client.get_random_node(), MetadataRequest([]))
        except Exception:
            await self.stop()
            raise
        cluster = getattr(response, "cluster_id", None)
        return cluster if isinstance(cluster, str) and cluster else None

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


#: Partitions of each topic the services create.
TOPIC_PARTITIONS = 3


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int = TOPIC_PARTITIONS,
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
