"""Read what is on a topic, without joining a consumer group (joins are slow on Tansu),
and what a group has committed."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.events import KafkaRecord, from_record
from services.contracts.envelope import Envelope


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    settle_s: float = 1.0,
    timeout_s: float = 15.0,
    until: int | None = None,
    key: str | None = None,
) -> list[tuple[bytes | None, Envelope]]:
    """Every event on ``topic`` (optionally only ``key``), from the beginning.

    Reads until ``until`` events matched, then ``settle_s`` longer to catch
    duplicates; or until ``timeout_s``.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        found: list[tuple[bytes | None, Envelope]] = []
        deadline = time.monotonic() + timeout_s
        settle_deadline: float | None = None
        while time.monotonic() < deadline:
            if settle_deadline is not None and time.monotonic() > settle_deadline:
                break
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                for message in messages:
                    envelope = from_record(
                        KafkaRecord(
                            message.topic,
                            message.key,
                            message.value or b"",
                            list(message.headers or []),
                        )
                    )
                    if key is None or envelope.subject == key:
                        found.append((message.key, envelope))
            if until is not None and len(found) >= until and settle_deadline is None:
                settle_deadline = time.monotonic() + settle_s
        return found
    finally:
        await consumer.stop()


def read_topic_sync(
    bootstrap: str, topic: str, **kwargs: object
) -> list[tuple[bytes | None, Envelope]]:
    return asyncio.run(read_topic(bootstrap, topic, **kwargs))  # type: ignore[arg-type]


async def committed_offsets(
    bootstrap: str, group: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, int | None]:
    """The offset ``group`` has committed for each partition (None where it has none)."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        return {partition: await reader.committed(partition) for partition in partitions}
    finally:
        await reader.stop()
