"""Every topic replayed from the start changes no row and adds no ledger leaf.

Every outbox is published again (``vndx outbox replay --since 1970-01-01``), the
consuming services are stopped, every consumer group's committed offsets are
reset to 0 and the services start again: each consumer re-reads every event
(some twice), and the inboxes make all of it a no-op.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.structs import OffsetAndMetadata

from services.contracts.topics import ACCESS_GRANTS, CATALOG_LISTINGS, ORDERS_ORDERS
from tests.reliability.harness import FaultyStack, Market, run_cli, until
from tests.reliability.invariants import check_purchases, rows

CONSUMING = ("pricing", "orders", "access", "audit")
#: Each service's consumer group and the topics it reads.
GROUPS = {
    "pricing": [CATALOG_LISTINGS],
    "orders": [CATALOG_LISTINGS, ACCESS_GRANTS],
    "access": [CATALOG_LISTINGS, ORDERS_ORDERS],
    "audit": [CATALOG_LISTINGS, ORDERS_ORDERS, ACCESS_GRANTS],
}
#: Bookkeeping of delivery itself, expected to change on a replay, and the audit
#: checkpoints, signed on a timer (the ledger's size is compared on its own).
DELIVERY_TABLES = {"inbox", "outbox", "audit_checkpoint"}


def fingerprint(data_dir: Path) -> dict[str, str]:
    """A digest of every row of every table of every service database."""
    digests: dict[str, str] = {}
    for db in sorted(data_dir.glob("*.db")):
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            tables = [
                str(name)
                for (name,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%'"
                )
            ]
            for table in tables:
                if table in DELIVERY_TABLES or "_fts" in table:
                    continue
                content = sorted(
                    repr(row) for row in connection.execute(f'SELECT * FROM "{table}"')
                )
                digests[f"{db.stem}.{table}"] = hashlib.sha256(
                    "\n".join(content).encode()
                ).hexdigest()
        finally:
            connection.close()
    return digests


def _backlog(stack: FaultyStack) -> int:
    return sum(
        int(
            rows(
                stack.data_dir / f"{name}.db",
                "SELECT count(*) FROM outbox WHERE published_at IS NULL",
            )[0][0]
        )
        for name in ("catalog", "pricing", "orders", "access", "audit")
    )


async def _partitions(bootstrap: str) -> list[TopicPartition]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        return [
            TopicPartition(topic, partition)
            for topic in (CATALOG_LISTINGS, ORDERS_ORDERS, ACCESS_GRANTS)
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
    finally:
        await consumer.stop()


class _FaustNamedAssignor(RoundRobinPartitionAssignor):  # type: ignore[misc]
    """Round robin under faust's protocol name: Tansu keeps a group's protocol once set."""

    name = "faust"


async def _rewind(bootstrap: str, group: str, topics: list[str]) -> None:
    """Join ``group`` (its service stopped, so alone) and commit offset 0 everywhere."""
    assignors = (_FaustNamedAssignor,) if group == "audit" else (RoundRobinPartitionAssignor,)
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        partition_assignment_strategy=assignors,
    )
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=500, max_records=1)
        await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in consumer.assignment()})
    finally:
        await consumer.stop()


async def _rewind_all(bootstrap: str) -> None:
    await asyncio.gather(*(_rewind(bootstrap, group, topics) for group, topics in GROUPS.items()))


async def _caught_up(bootstrap: str, group: str, partitions: list[TopicPartition]) -> bool:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        for tp in partitions:
            committed = await consumer.committed(tp)
            if ends[tp] and (committed or 0) < ends[tp]:
                return False
        return True
    finally:
        await consumer.stop()


def test_replaying_every_topic_from_the_start_changes_nothing(market: Market) -> None:
    stack = market.stack
    bootstrap = stack.tansu.bootstrap_servers
    placed = {str(order["id"]) for order in market.placed}
    until(
        "every purchase so far to settle",
        lambda: not check_purchases(stack, placed).problems and _backlog(stack) == 0,
        timeout=120,
    )
    time.sleep(2)  # the last offsets are committed just after the last effects
    before = fingerprint(stack.data_dir)
    ledger = check_purchases(stack, set()).ledger_size

    run_cli(stack, "outbox", "replay", "--since", "1970-01-01")
    until("the replayed outboxes to be published", lambda: _backlog(stack) == 0, timeout=120)
    for service in CONSUMING:
        stack.stop_service(service)
    partitions = asyncio.run(_partitions(bootstrap))
    asyncio.run(_rewind_all(bootstrap))
    for service in CONSUMING:
        stack.start_service(service)

    def all_caught_up() -> bool:
        return all(
            asyncio.run(
                _caught_up(bootstrap, group, [tp for tp in partitions if tp.topic in topics])
            )
            for group, topics in GROUPS.items()
        )

    until("every group to re-read every topic", all_caught_up, timeout=120, every=2)
    until("every outbox to be published", lambda: _backlog(stack) == 0, timeout=60)
    after = fingerprint(stack.data_dir)
    changed = sorted(name for name in before if before[name] != after.get(name))
    assert changed == []
    assert check_purchases(stack, set()).ledger_size == ledger
