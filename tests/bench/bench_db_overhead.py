"""CPU of the two database writes every event costs, on SQLite, by how they are written:

- a consumer's inbox transaction (look the event id up, insert it, commit);
- a state change's outbox row (wrap the event, insert it, commit).

Each through the ORM (an entity per row, a statement built per call: how both were
first written), as ``services/common/inbox.py`` and ``outbox.py`` write them now (Core
statements built once, in the same session), and through the ``sqlite3`` driver alone
(the reference: what SQLite itself costs). At a low event rate every event is its own
transaction, so this is what the database layer adds to each one; the end-to-end
benchmark's profiles put SQLAlchemy first in every service.

Run: .venv/bin/python -m tests.bench.bench_db_overhead [--transactions 3000]
Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlmodel import col, select

from services.common.db import create_tables, make_engine, transaction
from services.common.inbox import INBOX_TABLE, InboxRow, processed_among, record_all_processed
from services.common.outbox import OUTBOX_TABLE, OutboxRow, add_event, outbox_row_values
from services.contracts.access import GrantRevoked
from services.contracts.envelope import Envelope

CONSUMER = "bench"
SOURCE = "/bench"
ORM = "ORM: an entity per row, a statement built per call"
NOW = "services/common: Core statements built once"
DRIVER = "sqlite3 driver alone (reference)"
Ways = dict[str, Callable[[], None]]


def cpu_us_per_call(work: Callable[[], None], calls: int) -> float:
    """Process CPU microseconds per call of ``work``, after a few warm-up calls."""
    for _ in range(min(calls, 50)):
        work()
    started = time.process_time()
    for _ in range(calls):
        work()
    return (time.process_time() - started) / calls * 1e6


def inbox_ways(engine: Engine, driver: sqlite3.Connection) -> Ways:
    def orm() -> None:
        event_id = str(uuid.uuid4())
        with transaction(engine) as session:
            statement = select(InboxRow.event_id).where(
                col(InboxRow.consumer) == CONSUMER, col(InboxRow.event_id).in_([event_id])
            )
            if not session.exec(statement).all():
                session.add(InboxRow(consumer=CONSUMER, event_id=event_id))

    def now() -> None:
        event_id = str(uuid.uuid4())
        with transaction(engine) as session:
            if not processed_among(session, CONSUMER, [event_id]):
                record_all_processed(session, CONSUMER, [event_id])

    def plain() -> None:
        event_id = str(uuid.uuid4())
        driver.execute("BEGIN IMMEDIATE")
        found = driver.execute(
            "SELECT event_id FROM inbox WHERE consumer = ? AND event_id IN (?)",
            (CONSUMER, event_id),
        ).fetchall()
        if not found:
            driver.execute(
                "INSERT INTO inbox (consumer, event_id, processed_at) VALUES (?, ?, ?)",
                (CONSUMER, event_id, datetime.now(UTC).isoformat(" ")),
            )
        driver.execute("COMMIT")

    return {ORM: orm, NOW: now, DRIVER: plain}


def an_event() -> GrantRevoked:
    return GrantRevoked(
        grant_id=str(uuid.uuid4()),
        buyer_org="startup-a",
        listing_id=str(uuid.uuid4()),
        by_org="thanh-tra",
        by_role="regulator",
        reason="bench",
    )


def outbox_ways(engine: Engine, driver: sqlite3.Connection) -> Ways:
    def orm() -> None:
        payload = an_event()
        envelope = Envelope.wrap(payload, source=SOURCE)
        with transaction(engine) as session:
            session.add(
                OutboxRow(
                    event_id=envelope.id,
                    topic=payload.topic,
                    key=envelope.subject,
                    event_type=envelope.type,
                    envelope_json=envelope.model_dump_json(),
                )
            )

    def now() -> None:
        with transaction(engine) as session:
            add_event(session, an_event(), source=SOURCE)

    columns = ", ".join(outbox_row_values(an_event(), source=SOURCE))
    marks = ", ".join("?" for _ in columns.split(", "))

    def plain() -> None:
        values = outbox_row_values(an_event(), source=SOURCE)
        values["created_at"] = values["created_at"].isoformat(" ")
        driver.execute("BEGIN IMMEDIATE")
        driver.execute(f"INSERT INTO outbox ({columns}) VALUES ({marks})", tuple(values.values()))
        driver.execute("COMMIT")

    return {ORM: orm, NOW: now, DRIVER: plain}


def measure(folder: Path, calls: int) -> dict[str, dict[str, float]]:
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    create_tables(engine, [INBOX_TABLE, OUTBOX_TABLE])
    driver = sqlite3.connect(folder / "bench.db", isolation_level=None)
    driver.execute("PRAGMA journal_mode=WAL")
    driver.execute("PRAGMA synchronous=NORMAL")
    try:
        return {
            "an inbox transaction (look up, insert, commit)": {
                way: cpu_us_per_call(work, calls)
                for way, work in inbox_ways(engine, driver).items()
            },
            "an outbox row (wrap the event, insert, commit)": {
                way: cpu_us_per_call(work, calls)
                for way, work in outbox_ways(engine, driver).items()
            },
        }
    finally:
        driver.close()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=3000, help="per way of writing")
    calls = parser.parse_args().transactions
    with tempfile.TemporaryDirectory(prefix="vndx-bench-db-") as folder:
        figures = measure(Path(folder), calls)
    table = Table(title=f"CPU per transaction on SQLite, {calls:,} each", title_justify="left")
    table.add_column("write")
    table.add_column("written with")
    table.add_column("CPU µs", justify="right")
    table.add_column("× the driver alone", justify="right")
    for write, ways in figures.items():
        for way, micros in ways.items():
            table.add_row(write, way, f"{micros:,.0f}", f"{micros / ways[DRIVER]:,.1f}×")
            write = ""
    Console().print(table)


if __name__ == "__main__":
    main()
