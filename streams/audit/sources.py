"""Where `vndx audit verify` reads a ledger from: the audit API, or the `audit.ledger` topic.

Both give the records' canonical bytes in seq order and the signed
checkpoints. From the topic, a record published twice (at-least-once relay)
is kept once; two different records claiming the same seq are a fault.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.events import KafkaRecord, MalformedEvent, from_record
from services.contracts.audit import CheckpointSigned, LedgerRecordAppended
from services.contracts.topics import AUDIT_LEDGER
from streams.ledger.checkpoint import Checkpoint, CheckpointError
from streams.ledger.records import canonical_json


class SourceError(RuntimeError):
    """The ledger could not be read, or what was read contradicts itself."""


@dataclass
class LedgerSnapshot:
    """Records (canonical bytes, seq order) and checkpoints as read from a source."""

    records: list[bytes] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    duplicates: int = 0


def from_api(url: str, token: str, *, page: int = 1000, timeout_s: float = 30.0) -> LedgerSnapshot:
    """Page through `GET /v1/audit/records` and `GET /v1/audit/checkpoints`."""
    snapshot = LedgerSnapshot()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s) as client:
        # Checkpoints first: records read afterwards cover every one of them.
        for item in _pages(client, "/v1/audit/checkpoints", "after_size", "next_after_size", page):
            snapshot.checkpoints.append(_checkpoint(item))
        for item in _pages(client, "/v1/audit/records", "after", "next_after", page):
            snapshot.records.append(_record_bytes(item))
    return snapshot


def _record_bytes(item: dict[str, object]) -> bytes:
    """The record's canonical bytes: as stored when the API sends them, else re-canonicalised.

    Either way the verifier checks them against the signed roots, so trusting
    the server's bytes costs nothing in safety.
    """
    stored = item.get("record_b64")
    if isinstance(stored, str):
        try:
            return base64.b64decode(stored, validate=True)
        except binascii.Error as exc:
            raise SourceError(f"record {item.get('seq')}: record_b64 is not base64") from exc
    return canonical_json(item["record"])


def _pages(
    client: httpx.Client, path: str, cursor_name: str, next_name: str, page: int
) -> Iterator[dict[str, object]]:
    cursor = -1
    while True:
        response = client.get(path, params={cursor_name: cursor, "limit": page})
        if response.status_code != 200:
            raise SourceError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        body = response.json()
        yield from body["items"]
        if body.get(next_name) is None:
            return
        cursor = int(body[next_name])


def _checkpoint(document: dict[str, object]) -> Checkpoint:
    try:
        return Checkpoint.from_dict(dict(document))
    except CheckpointError as exc:
        raise SourceError(f"malformed checkpoint: {exc}") from exc


def from_topic(
    bootstrap: str, topic: str = AUDIT_LEDGER, *, timeout_s: float = 60.0
) -> LedgerSnapshot:
    """Read `topic` from the beginning to its current end, without a consumer group."""
    return asyncio.run(_read_topic(bootstrap, topic, timeout_s))


async def _read_topic(bootstrap: str, topic: str, timeout_s: float) -> LedgerSnapshot:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    await consumer.start()
    try:
        partitions = await consumer._client.fetch_all_metadata()
        numbers = partitions.partitions_for_topic(topic) or set()
        if not numbers:
            raise SourceError(f"topic {topic!r} not found at {bootstrap}")
        assignment = [TopicPartition(topic, number) for number in sorted(numbers)]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        ends = await consumer.end_offsets(assignment)
        by_seq: dict[int, bytes] = {}
        checkpoints: dict[int, Checkpoint] = {}
        duplicates = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while await _behind(consumer, assignment, ends):
            if loop.time() > deadline:
                raise SourceError(f"timed out reading {topic!r}")
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                for message in messages:
                    record = KafkaRecord(
                        message.topic,
                        message.key,
                        message.value or b"",
                        list(message.headers or []),
                    )
                    duplicates += _absorb(record, by_seq, checkpoints)
    finally:
        await consumer.stop()
    records = [by_seq[seq] for seq in sorted(by_seq)]
    ordered = [checkpoints[size] for size in sorted(checkpoints)]
    return LedgerSnapshot(records=records, checkpoints=ordered, duplicates=duplicates)


async def _behind(
    consumer: AIOKafkaConsumer, assignment: list[TopicPartition], ends: dict[TopicPartition, int]
) -> bool:
    for partition in assignment:
        if await consumer.position(partition) < ends[partition]:
            return True
    return False


def _absorb(
    record: KafkaRecord, by_seq: dict[int, bytes], checkpoints: dict[int, Checkpoint]
) -> int:
    """Add one topic record; return 1 if it repeated one already read."""
    try:
        envelope = from_record(record)
        payload = envelope.payload()
    except (MalformedEvent, LookupError, ValueError) as exc:
        raise SourceError(f"unreadable event on the ledger topic: {exc}") from exc
    if isinstance(payload, LedgerRecordAppended):
        raw = canonical_json(payload.record)
        known = by_seq.get(payload.seq)
        if known is not None and known != raw:
            raise SourceError(f"two different records claim seq {payload.seq}")
        by_seq[payload.seq] = raw
        return int(known is not None)
    if isinstance(payload, CheckpointSigned):
        checkpoint = _checkpoint(payload.model_dump())
        earlier = checkpoints.get(checkpoint.tree_size)
        if earlier is not None and earlier.root_hash != checkpoint.root_hash:
            raise SourceError(f"two different checkpoints of size {checkpoint.tree_size}")
        checkpoints[checkpoint.tree_size] = checkpoint
        return int(earlier is not None)
    return 0
