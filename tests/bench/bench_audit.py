"""Benchmark of the audit worker: ledger append rate and verification of a million records.

Run from the repository root:

    .venv/bin/python -m tests.bench.bench_audit [--events N] [--records N]

Prints one table. The append rate is the worker's path minus the broker: each
event is applied as the consumer applies it (one SQLite transaction holding
the inbox row, the ledger row, the outbox row, the usage-watch and KPI
updates). Verification is what `vndx audit verify` runs once it has read
the ledger (`verify_ledger` over every record and checkpoint), over a
million records built as in bench_ledger; the reference is plain SHA-256 of
the same bytes. The goal is under 10 s for 1,000,000 records.
"""

from __future__ import annotations

import argparse
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

from services.common.db import create_tables, make_engine, transaction
from services.common.inbox import already_processed, record_processed
from services.common.runtime import COMMON_TABLES
from services.common.settings import Settings
from services.contracts.envelope import Envelope
from streams.audit.agents import GROUP_ID, audit_handlers
from streams.audit.checkpoints import sign_if_due
from streams.audit.keys import ledger_signing_key
from streams.audit.ledger_store import ensure_head
from streams.audit.tables import AUDIT_TABLES
from streams.audit.tree import LedgerTree
from streams.ledger.auditor import verify_ledger
from streams.ledger.checkpoint import Checkpoint
from streams.ledger.log import AuditLog
from tests.bench.bench_ledger import START, fast_record_bytes, timed
from tests.unit.audit.audit_events import T0, download_url, grant_issued, ids, queried, wrap


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
    directory: Path, events: list[Envelope], *, with_agents: bool = True
) -> tuple[float, float]:
    """(seconds to apply every event, seconds to catch the tree up and sign).

    Without agents only the consumer's own work is done (inbox row, commit):
    the floor any handler on this loop starts from.
    """
    settings = Settings(env="test", service_name="audit", data_dir=directory)
    engine = make_engine(settings.resolved_database_url)
    create_tables(engine, [*COMMON_TABLES, *AUDIT_TABLES])
    ensure_head(engine)
    handlers = audit_handlers(settings) if with_agents else {}
    started = time.perf_counter()
    for envelope in events:
        with transaction(engine) as session:
            if already_processed(session, GROUP_ID, envelope.id):
                continue
            if with_agents:
                handlers[envelope.type](session, envelope, envelope.payload())
            record_processed(session, GROUP_ID, envelope.id)
    applied = time.perf_counter() - started
    started = time.perf_counter()
    tree = LedgerTree(engine)
    checkpoint = sign_if_due(engine, tree, ledger_signing_key(settings), every=1, interval_s=1)
    signed = time.perf_counter() - started
    if not with_agents:
        return applied, signed
    if checkpoint is None or checkpoint.tree_size < len(events):
        raise SystemExit(f"worker recorded {tree.size} of {len(events)} events")
    engine.dispose()
    return applied, signed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000, help="events through the worker")
    parser.add_argument("--records", type=int, default=1_000_000, help="records to verify")
    parser.add_argument("--every", type=int, default=1000, help="records per checkpoint")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for hashing and verify")
    args = parser.parse_args()
    console = Console()

    events = worker_events(args.events)
    with (
        tempfile.TemporaryDirectory() as directory,
        console.status(f"applying {len(events):,} events through the worker…"),
    ):
        apply_seconds, sign_seconds = append_through_worker(Path(directory), events)
    with tempfile.TemporaryDirectory() as directory:
        floor_seconds, _ = append_through_worker(Path(directory), events, with_agents=False)

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
    for column in ("step", "records", "seconds", "records/s", "x SHA-256"):
        table.add_column(column, justify="left" if column == "step" else "right")
    reference = sha_seconds / args.records

    def row(step: str, count: int, seconds: float) -> None:
        table.add_row(
            step,
            f"{count:,}",
            f"{seconds:.2f}",
            f"{count / seconds:,.0f}",
            f"{seconds / count / reference:,.0f}",
        )

    row("plain SHA-256 of the record bytes (reference)", args.records, sha_seconds)
    row("consumer floor: inbox row + commit, no agents", len(events), floor_seconds)
    row(
        "worker append (inbox + ledger + outbox + watch + KPIs, SQLite)", len(events), apply_seconds
    )
    row("tree catch-up from the store + one signed checkpoint", len(events), sign_seconds)
    row(f"vndx audit verify core ({len(checkpoints):,} checkpoints)", args.records, verify_seconds)
    console.print(table)
    scaled = verify_seconds * 1_000_000 / args.records
    console.print(
        f"goal: verify 1,000,000 records in < 10 s: {'met' if scaled < 10 else 'NOT met'} "
        f"({scaled:.2f} s per million)"
    )


if __name__ == "__main__":
    main()
