"""``vndx dlq``: inspect and retry dead letters (events parked on ``<topic>.dlq``).

A consumer parks an event it can never apply (malformed, unknown version,
oversized, or a handler that failed every retry) with the headers
``vndx_dlq_reason`` and ``vndx_dlq_origin`` (``topic/partition/offset/group``).
``replay`` publishes such events back on their original topic, without those
headers, once the cause is fixed; consumers that already applied one skip it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Annotated

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console
from rich.table import Table

from services.common.events import KafkaRecord
from services.common.kafka import (
    DLQ_ORIGIN_HEADER,
    DLQ_REASON_HEADER,
    KafkaPublisher,
    kafka_security,
)
from services.common.settings import Settings, load_settings
from services.contracts.topics import ALL_TOPICS, dead_letter_topic

app = typer.Typer(help="Inspect and retry dead-lettered events.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


@dataclass(frozen=True)
class DeadLetter:
    """One parked event and why it was parked."""

    dlq_topic: str
    partition: int
    offset: int
    record: KafkaRecord

    def header(self, name: str) -> str:
        for key, value in self.record.headers:
            if key == name:
                return value.decode(errors="replace")
        return ""

    @property
    def reason(self) -> str:
        return self.header(DLQ_REASON_HEADER)

    @property
    def origin_topic(self) -> str:
        origin = self.header(DLQ_ORIGIN_HEADER)
        return origin.split("/", 1)[0] if origin else self.dlq_topic.removesuffix(".dlq")

    @property
    def event_id(self) -> str:
        """The CloudEvents id (``ce_id`` header, or ``id`` of a structured value), if any."""
        found = self.header("ce_id")
        if found:
            return found
        try:
            value = json.loads(self.record.value)
        except ValueError:
            return ""
        return str(value.get("id", "")) if isinstance(value, dict) else ""

    @property
    def event_type(self) -> str:
        return self.header("ce_type")

    def original(self) -> KafkaRecord:
        """The record as first published: its topic, key, value and headers."""
        headers = [
            (name, value)
            for name, value in self.record.headers
            if name not in (DLQ_REASON_HEADER, DLQ_ORIGIN_HEADER)
        ]
        return KafkaRecord(self.origin_topic, self.record.key, self.record.value, headers)


def dlq_topic_of(topic: str) -> str:
    return topic if topic.endswith(".dlq") else dead_letter_topic(topic)


async def read_dead_letters(
    settings: Settings, topics: list[str], idle_s: float = 1.0
) -> list[DeadLetter]:
    """Every record on the given dead-letter topics, from the beginning, without a group."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
        **kafka_security(settings),
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        assignment = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not assignment:
            return []
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        ends = await consumer.end_offsets(assignment)
        found: list[DeadLetter] = []
        loop = asyncio.get_running_loop()
        idle_until = loop.time() + idle_s
        while loop.time() < idle_until:
            done = all([await consumer.position(tp) >= ends[tp] for tp in assignment])
            if done:
                break
            batches = await consumer.getmany(timeout_ms=200)
            if batches:
                idle_until = loop.time() + idle_s
            for messages in batches.values():
                found += [
                    DeadLetter(
                        m.topic,
                        m.partition,
                        m.offset,
                        KafkaRecord(m.topic, m.key, m.value or b"", list(m.headers or [])),
                    )
                    for m in messages
                ]
        return sorted(found, key=lambda d: (d.dlq_topic, d.partition, d.offset))
    finally:
        await consumer.stop()


def _topics(topic: str | None) -> list[str]:
    return [dlq_topic_of(topic)] if topic else [dead_letter_topic(t) for t in ALL_TOPICS]


@app.command("list")
def list_dead_letters(
    topic: Annotated[
        str | None, typer.Option(help="a topic or its .dlq (default: every dead-letter topic)")
    ] = None,
) -> None:
    """Show parked events: where they came from, what they are and why they were parked."""
    settings = load_settings()
    letters = asyncio.run(read_dead_letters(settings, _topics(topic)))
    table = Table("dlq topic", "partition", "offset", "event id", "type", "origin", "reason")
    for letter in letters:
        table.add_row(
            letter.dlq_topic,
            str(letter.partition),
            str(letter.offset),
            letter.event_id or "-",
            letter.event_type or "-",
            letter.header(DLQ_ORIGIN_HEADER) or "-",
            letter.reason or "-",
        )
    console.print(table)
    console.print(f"{len(letters)} dead letters")


async def _republish(settings: Settings, letters: list[DeadLetter]) -> None:
    publisher = KafkaPublisher(settings)
    try:
        await publisher.publish([letter.original() for letter in letters])
    finally:
        await publisher.stop()


@app.command()
def replay(
    topic: Annotated[str, typer.Option(help="the original topic or its .dlq")],
    event_id: Annotated[str | None, typer.Option(help="only this event")] = None,
) -> None:
    """Publish dead letters back on their original topic (after fixing their cause)."""
    settings = load_settings()
    letters = asyncio.run(read_dead_letters(settings, _topics(topic)))
    if event_id is not None:
        letters = [letter for letter in letters if letter.event_id == event_id]
        if not letters:
            errors.print(f"[red]error:[/red] no dead letter with event id {event_id}")
            raise typer.Exit(1)
    asyncio.run(_republish(settings, letters))
    console.print(f"{len(letters)} dead letters published again on {topic.removesuffix('.dlq')}")
