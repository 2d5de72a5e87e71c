"""CPU of one consumer transaction on SQLite, by how it is written: the inbox check and
record every event costs (look the event id up, insert it, commit), through the ORM
(an entity per row, a statement built per call: how the inbox was first written), as
``services/common/inbox.py`` writes it now (Core statements built once, in the same
session), and through the ``sqlite3`` driver alone (the reference: what SQLite costs).

At a low event rate every event is its own transaction, so this is what the database
layer adds to each one; the end-to-end benchmark's profiles put SQLAlchemy first in
every service.

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
from sqlmodel import col, select

from services.common.db import create_tables, make_engine, transaction
from services.common.inbox import INBOX_TABLE, InboxRow, processed_among, record_all_processed

CONSUMER = "bench"


def cpu_us_per_call(work: Callable[[], None], calls: int) -> float:
    """Process CPU microseconds per call of ``work``, after a few warm-up calls."""
    for _ in range(min(calls, 50)):
        work()
    started = time.process_time()
    for _ in range(calls):
        work()
    return (time.process_time() - started) / calls * 1e6


def measure(folder: Path, calls: int) -> dict[str, float]:
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    create_tables(engine, [INBOX_TABLE])

    def orm() -> None:
        event_id = str(uuid.uuid4())
        with transaction(engine) as session:
            statement = select(InboxRow.event_id).where(
                col(InboxRow.consumer) == CONSUMER, col(InboxRow.event_id).in_([event_id])
            )
            if not session.exec(statement).all():
                session.add(InboxRow(consumer=CONSUMER, event_id=event_id))

    def as_the_services_do() -> None:
        event_id = str(uuid.uuid4())
        with transaction(engine) as session:
            if not processed_among(session, CONSUMER, [event_id]):
                record_all_processed(session, CONSUMER, [event_id])

    driver = sqlite3.connect(folder / "bench.db", isolation_level=None)
    driver.execute("PRAGMA journal_mode=WAL")
    driver.execute("PRAGMA synchronous=NORMAL")

    def plain_sqlite() -> None:
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

    try:
        return {
            "ORM: an entity per row, a statement built per call": cpu_us_per_call(orm, calls),
            "services/common/inbox.py: Core statements built once": cpu_us_per_call(
                as_the_services_do, calls
            ),
            "sqlite3 driver alone (reference)": cpu_us_per_call(plain_sqlite, calls),
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
    reference = figures["sqlite3 driver alone (reference)"]
    table = Table(
        title=f"one inbox transaction on SQLite (look up, insert, commit), {calls:,} each",
        title_justify="left",
    )
    table.add_column("written with")
    table.add_column("CPU µs per transaction", justify="right")
    table.add_column("× the driver alone", justify="right")
    for label, micros in figures.items():
        table.add_row(label, f"{micros:,.0f}", f"{micros / reference:,.1f}×")
    Console().print(table)


if __name__ == "__main__":
    main()
