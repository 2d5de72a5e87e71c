"""Benchmark of the audit worker: ledger append rate and verification of a million records.

Run from the repository root:

    .venv/bin/python -m tests.bench.bench_audit [--events N] [--records N]

Prints one table. The append rate is the worker's path minus the broker: the
events are applied as the faust agent applies them (`BatchApplier`: inbox
rows, ledger rows, outbox rows, usage-watch and KPI updates), once with one
SQLite transaction per event (before batching) and once with `--batch`
events per transaction (now). `--join` instead measures the faust worker's first group join on Tansu
for several session timeouts (Tansu completes a first join after half of it).
Verification is what `vndx audit verify` runs once it has read
the ledger (`verify_ledger` over every record and checkpoint), over a
million records built as in bench_ledger; the reference is plain SHA-256 of
the same bytes. The goal is under 10 s for 1,000,000 records.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from hashlib import sha256
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rich.console import Console
from rich.progress import track
from rich.table import Table
from sqlmodel import Session

from services.common.db import create_tables, make_engine
from services.common.events import KafkaRecord
from services.common.kafka import KafkaPublisher, ensure_topics
from services.common.runtime import COMMON_TABLES
from services.common.settings import Settings
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.topics import all_topics_with_dlq
from streams.audit.agents import GROUP_ID, audit_handlers
from streams.audit.batches import Admitted, BatchApplier
from streams.audit.checkpoints import sign_if_due
from streams.audit.faust_app import AuditWorker
from streams.audit.keys import ledger_signing_key
from streams.audit.ledger_store import ensure_head
from streams.audit.tables import AUDIT_TABLES
from streams.audit.tree import LedgerTree
from streams.ledger.auditor import verify_ledger
from streams.ledger.checkpoint import Checkpoint
from streams.ledger.log import AuditLog
from tests.bench.bench_ledger import START, fast_record_bytes, timed
from tests.unit.audit.audit_events import T0, download_url, grant_issued, ids, queried, wrap
from vndx.embedded import Tansu


def worker_events(count: int) -> list[Envelope]:
    """A grant, then its download URLs and sandbox queries, spread over hours."""
    events: list[Envelope] = []
    grants = max(1, count // 50)
    for n in range(grants):
        listing, order, grant = ids(f"bench-{n}")
        events.append(wrap(grant_issued(listing, order, grant)))
        for k in range(49):
            moment = T0 + timedelta(minutes=k * 7)
            payload = download_url(listing, grant) if k % 2 else queried(listing, grant)
            events.append(wrap(payload, moment))
    return events[:count]


def append_through_worker(
    directory: Path, events: list[Envelope], *, batch: int, with_agents: bool = True
) -> tuple[float, float]:
    """(seconds to apply every event, seconds to catch the tree up and sign).

    Events go through `BatchApplier` as the faust agent hands them over,
    `batch` per transaction (1 is what the worker did before batching).
    Without agents only the worker's own work is done (inbox rows, commit):
    the floor any handler starts from.
    """
    settings = Settings(env="test", service_name="audit", data_dir=directory)
    engine = make_engine(settings.resolved_database_url)
    create_tables(engine, [*COMMON_TABLES, *AUDIT_TABLES])
    ensure_head(engine)
    handlers = audit_handlers(settings)
    if not with_agents:
        handlers = {kind: _inbox_only for kind in handlers}
    applier = BatchApplier(engine, GROUP_ID, handlers, max_event_bytes=settings.max_event_bytes)
    admitted = [Admitted(_NO_RECORD, envelope, envelope.payload()) for envelope in events]
    started, cpu_started = time.perf_counter(), time.process_time()
    for start in range(0, len(admitted), batch):
        applier.apply_batch(admitted[start : start + batch])
    applied = time.perf_counter() - started
    CPU_SECONDS[f"{batch}/{with_agents}"] = time.process_time() - cpu_started
    started = time.perf_counter()
    tree = LedgerTree(engine)
    checkpoint = sign_if_due(engine, tree, ledger_signing_key(settings), every=1, interval_s=1)
    signed = time.perf_counter() - started
    engine.dispose()
    if with_agents and (checkpoint is None or checkpoint.tree_size < len(events)):
        raise SystemExit(f"worker recorded {tree.size} of {len(events)} events")
    return applied, signed


#: CPU seconds of each append run (the machine may be shared: wall time waits for others).
CPU_SECONDS: dict[str, float] = {}
_NO_RECORD = KafkaRecord(topic="bench", key=None, value=b"", headers=[])


def _inbox_only(_session: Session, _envelope: Envelope, _payload: EventPayload) -> None:
    """A handler that does nothing: the batch still writes each event's inbox row."""


async def _start_and_stop(settings: Settings, applier: BatchApplier) -> tuple[float, float]:
    """(seconds to the first assignment, seconds until `start` returned, i.e. consuming)."""
    worker = AuditWorker(settings, applier, KafkaPublisher(settings))
    started = time.perf_counter()
    await worker.start()
    consuming = time.perf_counter() - started
    await worker.stop()
    return worker.joined_after_s or float("nan"), consuming


def measure_joins(sessions: list[float]) -> list[tuple[float, float, float]]:
    """(session s, seconds to the group's first assignment, seconds until consuming) on Tansu.

    Each measurement uses a group of its own, so no earlier member is waited for.
    """
    results: list[tuple[float, float, float]] = []
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        with Tansu(root / "tansu.log") as broker:
            asyncio.run(ensure_topics(broker.bootstrap_servers, all_topics_with_dlq()))
            for session_s in sessions:
                settings = Settings(
                    env="test",
                    service_name="audit",
                    data_dir=root,
                    kafka_bootstrap=broker.bootstrap_servers,
                    audit_session_timeout_s=session_s,
                )
                engine = make_engine(settings.resolved_database_url)
                group = f"audit-join-{session_s:g}"
                applier = BatchApplier(engine, group, {}, max_event_bytes=settings.max_event_bytes)

                joined, consuming = asyncio.run(_start_and_stop(settings, applier))
                engine.dispose()
                results.append((session_s, joined, consuming))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000, help="events through the worker")
    parser.add_argument("--batch", type=int, default=200, help="events per transaction (after)")
    parser.add_argument("--records", type=int, default=1_000_000, help="records to verify")
    parser.add_argument("--every", type=int, default=1000, help="records per checkpoint")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for hashing and verify")
    parser.add_argument(
        "--join",
        action="store_true",
        help="only measure the faust worker's first group join on Tansu (60, 10, 6, 3 s sessions)",
    )
    args = parser.parse_args()
    console = Console()
    if args.join:
        table = Table(title="faust audit worker: first group join on Tansu")
        for column in ("session timeout s", "joined after s", "consuming after s"):
            table.add_column(column, justify="right")
        with console.status("starting the worker with each session timeout…"):
            joins = measure_joins([60.0, 10.0, 6.0, 3.0])
        for session_s, joined, consuming in joins:
            table.add_row(f"{session_s:g}", f"{joined:.1f}", f"{consuming:.1f}")
        console.print(table)
        return

    events = worker_events(args.events)
    appends: dict[str, tuple[float, float]] = {}
    for label, batch, agents in (
        ("before", 1, True),
        ("after", args.batch, True),
        ("floor", args.batch, False),
    ):
        with (
            tempfile.TemporaryDirectory() as directory,
            console.status(f"applying {len(events):,} events, {batch} per transaction…"),
        ):
            appends[label] = append_through_worker(
                Path(directory), events, batch=batch, with_agents=agents
            )

    corpus = [
        fast_record_bytes(seq)
        for seq in track(range(args.records), description="building corpus", console=console)
    ]
    key = Settings(data_dir=Path(tempfile.mkdtemp()))  # a throwaway key for the corpus
    log = AuditLog(ledger_signing_key(key))
    checkpoints: list[Checkpoint] = []
    for raw in corpus:
        log.append_bytes(raw)
        if log.size % args.every == 0 or log.size == len(corpus):
            checkpoints.append(log.checkpoint(START + timedelta(seconds=log.size)))

    def plain_sha256() -> None:
        for raw in corpus:
            sha256(raw).digest()

    _, sha_seconds = timed(plain_sha256, args.repeat)
    public_key = ledger_signing_key(key).public_key()
    report, verify_seconds = timed(
        lambda: verify_ledger(corpus, checkpoints, public_key), args.repeat
    )
    if not report.ok:
        raise SystemExit(f"verification failed: {report}")

    table = Table(title="audit worker and verifier")
    for column in ("step", "records", "seconds", "CPU s", "records/s", "x SHA-256"):
        table.add_column(column, justify="left" if column == "step" else "right")
    reference = sha_seconds / args.records

    def row(step: str, count: int, seconds: float, cpu: float | None = None) -> None:
        table.add_row(
            step,
            f"{count:,}",
            f"{seconds:.2f}",
            "–" if cpu is None else f"{cpu:.2f}",
            f"{count / seconds:,.0f}",
            f"{seconds / count / reference:,.0f}",
        )

    row("plain SHA-256 of the record bytes (reference)", args.records, sha_seconds)
    row(
        "before: worker append, 1 event per transaction",
        len(events),
        appends["before"][0],
        CPU_SECONDS["1/True"],
    )
    row(
        f"after: worker append, {args.batch} events per transaction",
        len(events),
        appends["after"][0],
        CPU_SECONDS[f"{args.batch}/True"],
    )
    row(
        f"floor: inbox rows only, {args.batch} per transaction",
        len(events),
        appends["floor"][0],
        CPU_SECONDS[f"{args.batch}/False"],
    )
    row("tree catch-up from the store + one signed checkpoint", len(events), appends["after"][1])
    row(f"vndx audit verify core ({len(checkpoints):,} checkpoints)", args.records, verify_seconds)
    console.print(table)
    scaled = verify_seconds * 1_000_000 / args.records
    console.print(
        f"goal: verify 1,000,000 records in < 10 s: {'met' if scaled < 10 else 'NOT met'} "
        f"({scaled:.2f} s per million)"
    )


if __name__ == "__main__":
    main()
