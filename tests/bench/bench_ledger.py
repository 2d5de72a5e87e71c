"""Benchmark of the audit ledger: append rate and full verification of a million records.

Run from the repository root:

    .venv/bin/python -m tests.bench.bench_ledger [--records N] [--every K]

Prints one table (hashing and verification: best of --repeat runs, as the
machine may be shared). The reference is plain SHA-256 over the same record bytes:
no Merkle verification can beat one hash per record, and verifying costs
about two (leaf + interior node) plus the per-record checks. The goal is a
full verification of 1,000,000 records in under 10 s.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import TypeVar

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rich.console import Console
from rich.progress import track
from rich.table import Table

from streams.ledger.auditor import verify_ledger
from streams.ledger.checkpoint import Checkpoint, generate_private_key
from streams.ledger.log import AuditLog
from streams.ledger.records import LedgerRecord, format_time, record_digest

START = datetime(2025, 3, 1, tzinfo=UTC)
EVENT_TYPES = ("vn.vndx.access.download.v1", "vn.vndx.access.query.v1")
T = TypeVar("T")


def make_record(seq: int) -> LedgerRecord:
    """The record the corpus holds at `seq` (a download or a sandbox query)."""
    moment = START + timedelta(milliseconds=250 * seq)
    return LedgerRecord(
        seq=seq,
        event_id=str(uuid.UUID(int=seq + 1)),
        event_type=EVENT_TYPES[seq % 2],
        occurred_at=moment,
        recorded_at=moment + timedelta(milliseconds=3),
        org=f"org-{seq % 50}",
        listing_id=str(uuid.UUID(int=seq % 997 + 10**6)),
        grant_id=str(uuid.UUID(int=seq // 20 + 10**7)),
        order_id=None,
        data={"bytes": seq * 37 % 100_000, "rows": seq % 5000, "sandbox": seq % 2 == 1},
    )


def fast_record_bytes(seq: int) -> bytes:
    """`make_record(seq).to_bytes()` without pydantic and rfc8785 (checked against it).

    Every value here is ASCII without escapes, so the canonical text can be
    written directly; it makes a million-record corpus take seconds, not minutes.
    """
    moment = START + timedelta(milliseconds=250 * seq)
    data = b'{"bytes":%d,"rows":%d,"sandbox":%s}' % (
        seq * 37 % 100_000,
        seq % 5000,
        b"true" if seq % 2 == 1 else b"false",
    )
    event_id = uuid.UUID(int=seq + 1)
    grant_id = uuid.UUID(int=seq // 20 + 10**7)
    listing_id = uuid.UUID(int=seq % 997 + 10**6)
    occurred_at = format_time(moment)
    recorded_at = format_time(moment + timedelta(milliseconds=3))
    rest = (
        f'"event_id":"{event_id}","event_type":"{EVENT_TYPES[seq % 2]}",'
        f'"grant_id":"{grant_id}","listing_id":"{listing_id}","occurred_at":"{occurred_at}",'
        f'"order_id":null,"org":"org-{seq % 50}","recorded_at":"{recorded_at}","seq":{seq}}}'
    ).encode()
    head = b'{"data":' + data
    digest = record_digest(head + b"," + rest).encode()
    return head + b',"digest":"' + digest + b'",' + rest


def timed(action: Callable[[], T], repeat: int = 1) -> tuple[T, float]:
    """The result and the best wall time of `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return result, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=1000, help="records per checkpoint")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for hashing and verify")
    parser.add_argument(
        "--object-records",
        type=int,
        default=50_000,
        help="records appended as LedgerRecord objects (canonicalised one by one)",
    )
    args = parser.parse_args()
    console = Console()
    key = generate_private_key()

    for seq in [*range(50), *random.Random(1).sample(range(args.records), 50)]:
        if fast_record_bytes(seq) != make_record(seq).to_bytes():
            raise SystemExit(f"corpus generator disagrees with LedgerRecord at seq {seq}")
    corpus = [
        fast_record_bytes(seq)
        for seq in track(range(args.records), description="building corpus", console=console)
    ]
    mean_size = sum(map(len, corpus)) / len(corpus)

    objects = [make_record(seq) for seq in range(args.object_records)]
    object_log = AuditLog(key)
    _, object_seconds = timed(lambda: [object_log.append(record) for record in objects])

    log = AuditLog(key)
    checkpoints: list[Checkpoint] = []

    def append_all() -> None:
        for raw in corpus:
            log.append_bytes(raw)
            if log.size % args.every == 0:
                checkpoints.append(log.checkpoint(START + timedelta(seconds=log.size)))

    _, append_seconds = timed(append_all)

    def plain_sha256() -> None:
        for raw in corpus:
            sha256(raw).digest()

    _, sha_seconds = timed(plain_sha256, args.repeat)
    report, verify_seconds = timed(
        lambda: verify_ledger(corpus, checkpoints, key.public_key()), args.repeat
    )
    if not report.ok:
        raise SystemExit(f"verification failed: {report}")

    table = Table(title=f"audit ledger, {args.records:,} records of {mean_size:.0f} bytes")
    for column in ("step", "records", "seconds", "records/s", "x SHA-256"):
        table.add_column(column, justify="right" if column != "step" else "left")

    def row(step: str, count: int, seconds: float) -> None:
        per_record = seconds / count
        reference = sha_seconds / args.records
        table.add_row(
            step,
            f"{count:,}",
            f"{seconds:.2f}",
            f"{count / seconds:,.0f}",
            f"{per_record / reference:.1f}",
        )

    row("plain SHA-256 of the bytes (reference)", args.records, sha_seconds)
    row("append LedgerRecord (canonicalise, hash, tree)", args.object_records, object_seconds)
    row(f"append bytes (check, hash, tree, sign every {args.every})", args.records, append_seconds)
    row(f"verify_ledger ({len(checkpoints):,} checkpoints)", args.records, verify_seconds)
    console.print(table)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(
        f"tree storage {log.tree.nbytes / 1e6:.0f} MB; process peak RSS {peak_mb:,.0f} MB "
        f"(corpus included); goal: verify 1,000,000 records in < 10 s: "
        f"{'met' if verify_seconds * 1_000_000 / args.records < 10 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
