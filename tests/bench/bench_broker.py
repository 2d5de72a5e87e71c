"""Benchmark of the embedded broker: what delivering a record costs as its topic grows.

Run from the repository root:

    .venv/bin/python -m tests.bench.bench_broker [--records N] [--steps N] [--rate N]

Each reading produces ``--rate`` one-record batches a second for ``--window``
seconds (as the outbox relays publish at a steady rate) to one consumer that
commits after each batch at the services' fetch wait, and takes the broker's
CPU over that window. Between readings ``--records`` more records are written.
The reference is the first reading, on an almost empty topic. With Tansu's
memory storage a fetch that returns records costs more the longer the topic
(a consumer waiting at the head costs the same at any length), so the
embedded stack's broker grows slower over a long run; Kafka's log segments are
indexed by offset, so the growth is the embedded broker's, not the services'.

A second table shows how long a group member waits for its partitions on Tansu:
at a group's first join, and when it restarts after leaving (a service restarted),
for aiokafka's default session (production's, 10 s) and the embedded stack's
(``VNDX_KAFKA_SESSION_TIMEOUT_MS``); the consumers use ``group_session``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.console import Console
from rich.table import Table

from services.common.consumer import group_session
from services.common.kafka import TOPIC_PARTITIONS, ensure_topics
from services.common.settings import PRODUCTION_SESSION_TIMEOUT_MS, Settings
from tests.bench.cpu_accounting import cpu_seconds
from vndx.embedded import Tansu

TOPIC = "bench.broker.growth"
REJOIN_TOPIC = "bench.broker.rejoin"
RECORD = b"x" * 800  # about one event envelope


async def measure(bootstrap: str, broker: psutil.Process, options: argparse.Namespace) -> Table:
    await ensure_topics(bootstrap, [TOPIC], partitions=options.partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id="bench-broker",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=options.fetch_wait_ms,
    )
    await producer.start()
    await consumer.start()
    produced, consumed, caught_up = 0, 0, asyncio.Event()

    async def consume() -> None:
        nonlocal consumed
        while True:
            for partition, records in (await consumer.getmany(timeout_ms=1000)).items():
                consumed += len(records)
                await consumer.commit({partition: records[-1].offset + 1})
            if consumed >= produced:
                caught_up.set()

    async def produce(count: int, per_s: float | None = None) -> None:
        nonlocal produced
        began = time.monotonic()
        for n in range(count):
            if per_s is not None:
                await asyncio.sleep(max(0.0, began + n / per_s - time.monotonic()))
            await producer.send_and_wait(TOPIC, RECORD, key=str(n).encode())  # a batch each
            produced += 1
        caught_up.clear()
        await caught_up.wait()

    async def reading() -> float:
        """The broker's CPU, in cores, while records flow at the reading rate."""
        began, before = time.monotonic(), cpu_seconds(broker)
        await produce(int(options.rate * options.window), options.rate)
        return (cpu_seconds(broker) - before) / (time.monotonic() - began)

    consuming = asyncio.create_task(consume())
    table = Table(
        title=f"Tansu (memory storage): {options.rate:g} records/s to one consumer "
        f"(fetch_max_wait_ms={options.fetch_wait_ms}, a commit per batch)",
        title_justify="left",
    )
    for column in ("records in the topic", "broker CPU, % of a core", "vs the first reading"):
        table.add_column(column, justify="right")
    try:
        await produce(1)  # consumed once the group has joined
        first = await reading()
        table.add_row(f"{produced:,}", f"{100 * first:.1f}", "reference")
        for _ in range(options.steps):
            await produce(options.records)
            share = await reading()
            table.add_row(f"{produced:,}", f"{100 * share:.1f}", f"{share / first:.1f}×")
    finally:
        consuming.cancel()
        await asyncio.gather(consuming, return_exceptions=True)
        await consumer.stop()
        await producer.stop()
    return table


async def _assigned_after_s(bootstrap: str, group: str, settings: Settings) -> float:
    """Seconds from starting a group member until it holds partitions; it then leaves."""
    consumer = AIOKafkaConsumer(
        REJOIN_TOPIC, bootstrap_servers=bootstrap, group_id=group, **group_session(settings)
    )
    began = time.monotonic()
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=50)
        return time.monotonic() - began
    finally:
        await consumer.stop()


async def measure_rejoins(bootstrap: str, sessions_ms: list[int]) -> Table:
    await ensure_topics(bootstrap, [REJOIN_TOPIC])
    table = Table(
        title="Tansu: seconds until a group member holds its partitions", title_justify="left"
    )
    for column in ("session timeout ms", "first join of the group", "restarted after leaving"):
        table.add_column(column, justify="right")
    for session_ms in sessions_ms:
        settings = Settings(kafka_session_timeout_ms=session_ms)
        group = f"bench-rejoin-{session_ms}"
        first = await _assigned_after_s(bootstrap, group, settings)
        again = await _assigned_after_s(bootstrap, group, settings)
        table.add_row(f"{session_ms:,}", f"{first:.1f}", f"{again:.1f}")
    return table


async def measure_all(
    bootstrap: str, broker: psutil.Process, options: argparse.Namespace
) -> list[Table]:
    growth = await measure(bootstrap, broker, options)
    sessions = [PRODUCTION_SESSION_TIMEOUT_MS, Settings().kafka_session_timeout_ms]
    return [growth, await measure_rejoins(bootstrap, sessions)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000, help="records written per step")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--partitions", type=int, default=TOPIC_PARTITIONS)
    parser.add_argument("--rate", type=float, default=100.0, help="records/s while reading")
    parser.add_argument("--window", type=float, default=5.0, help="seconds of each reading")
    parser.add_argument("--fetch-wait-ms", type=int, default=Settings().kafka_fetch_max_wait_ms)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-broker-") as directory:
        broker = Tansu(Path(directory) / "tansu.log")
        broker.start()
        try:
            assert broker.pid is not None
            tables = asyncio.run(
                measure_all(broker.bootstrap_servers, psutil.Process(broker.pid), options)
            )
        finally:
            broker.stop()
    for table in tables:
        Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
