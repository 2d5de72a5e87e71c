"""A batch in one transaction stores exactly what its events stored one transaction each.

Within a batch the handlers read what earlier events of the same batch wrote
(a listing's theme, a grant's publisher, an order's payment time, hourly
counts) before anything is flushed: the store must not tell the difference.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import SQLModel, col, select

from services.common.db import create_tables, make_engine, transaction
from services.common.events import KafkaRecord
from services.common.inbox import InboxRow
from services.common.outbox import OutboxRow
from services.common.runtime import COMMON_TABLES
from services.common.settings import Settings
from services.contracts.envelope import Envelope
from streams.audit.agents import GROUP_ID, audit_handlers
from streams.audit.batches import Admitted, BatchApplier
from streams.audit.kpis import kpi_table
from streams.audit.ledger_store import ensure_head, ledger_size
from streams.audit.tables import (
    AUDIT_TABLES,
    FulfilmentRow,
    GrantFactsRow,
    LedgerEntryRow,
    ListingFactsRow,
    WatchClientRow,
    WatchCounterRow,
)
from streams.ledger.records import LedgerRecord
from tests.unit.audit.audit_events import (
    T0,
    access_sequence,
    download_url,
    grant_issued,
    ids,
    listing_published,
    order_paid,
    order_refunded,
    queried,
    wrap,
)
from tests.unit.audit.conftest import Apply

_NO_RECORD = KafkaRecord(topic="test", key=None, value=b"", headers=[])


def busy_day() -> list[Envelope]:
    """Facts, payments, grants, refunds and enough use of one grant to raise every alert."""
    listing, order, grant = ids("batch")
    other_listing, other_order, _ = ids("batch-refunded")
    events = [
        wrap(listing_published(listing, theme="land", provinces=["da-nang", "hue"])),
        wrap(order_paid(listing, order, total=2_000_000, at=T0)),
        wrap(grant_issued(listing, order, grant, at=T0 + timedelta(seconds=90))),
        *[wrap(download_url(listing, grant), T0 + timedelta(minutes=m)) for m in range(5)],
        *[wrap(queried(listing, grant, refused=True)) for _ in range(3)],
        *[wrap(download_url(listing, grant, client=f"10.0.0.{n}")) for n in range(3)],
        wrap(download_url(listing, grant, client="10.0.0.1")),  # a known client
        wrap(order_paid(other_listing, other_order, total=500_000, at=T0 + timedelta(days=1))),
        wrap(order_refunded(other_listing, other_order, amount=500_000)),
        *[wrap(p) for p in access_sequence("batch-other")],
    ]
    return [*events, events[1], events[4]]  # two events delivered twice in the same batch


def fresh_engine(settings: Settings, directory: Path) -> Engine:
    engine = make_engine(f"sqlite:///{directory / 'audit.db'}")
    create_tables(engine, [*COMMON_TABLES, *AUDIT_TABLES])
    ensure_head(engine)
    return engine


def apply_in_batches(engine: Engine, settings: Settings, events: list[Envelope], size: int) -> int:
    applier = BatchApplier(
        engine, GROUP_ID, audit_handlers(settings), max_event_bytes=settings.max_event_bytes
    )
    admitted = [Admitted(_NO_RECORD, e, e.payload()) for e in events]
    return sum(
        applier.apply_batch(admitted[start : start + size])
        for start in range(0, len(admitted), size)
    )


def rows(engine: Engine, model: type[SQLModel], *skip: str) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        found = session.exec(select(model)).all()
        return sorted(
            (
                {k: v for k, v in row.model_dump().items() if k not in skip}
                for row in found  # type: ignore[attr-defined]
            ),
            key=repr,
        )


def everything(engine: Engine) -> dict[str, Any]:
    """What a user can see of the store, recording times left out."""
    with transaction(engine) as session:
        ledger = session.exec(select(LedgerEntryRow).order_by(col(LedgerEntryRow.seq))).all()
        records = [LedgerRecord.from_bytes(r.record) for r in ledger]
        outbox = session.exec(select(OutboxRow).order_by(col(OutboxRow.seq))).all()
        kpis = {
            (period, dimension): kpi_table(session, period=period, dimension=dimension)
            for period in ("day", "month")
            for dimension in ("agency", "theme", "province")
        }
        size = ledger_size(session)
    return {
        "ledger": [
            (r.seq, r.event_id, r.event_type, r.org, r.grant_id, r.order_id, r.data)
            for r in records
        ],
        "parties": [(r.buyer_org, r.publisher_org, r.listing_id) for r in ledger],
        "announced": [json.loads(row.envelope_json)["data"]["seq"] for row in outbox],
        "size": size,
        "kpis": kpis,
        "fulfilment": rows(engine, FulfilmentRow),
        "grants": rows(engine, GrantFactsRow),
        "listings": rows(engine, ListingFactsRow),
        "watch": rows(engine, WatchCounterRow),
        "clients": rows(engine, WatchClientRow),
        "inbox": rows(engine, InboxRow, "processed_at"),
    }


def test_batches_store_what_single_events_store(
    engine: Engine, apply: Apply, settings: Settings, tmp_path: Path
) -> None:
    events = busy_day()
    for envelope in events:
        apply(envelope)
    one_by_one = everything(engine)
    assert one_by_one["size"] == len(one_by_one["ledger"]) == 23  # 20 records of events, 3 alerts
    assert one_by_one["announced"] == list(range(23))

    for size in (len(events), 4):
        directory = tmp_path / f"batch-{size}"
        directory.mkdir()
        batched = fresh_engine(settings, directory)
        assert apply_in_batches(batched, settings, events, size) == 21  # a listing, 20 recorded
        assert everything(batched) == one_by_one
        batched.dispose()


def test_a_replayed_batch_adds_nothing(settings: Settings, tmp_path: Path) -> None:
    engine = fresh_engine(settings, tmp_path)
    events = busy_day()
    apply_in_batches(engine, settings, events, 7)
    before = everything(engine)

    assert apply_in_batches(engine, settings, events, 5) == 0
    assert everything(engine) == before
    engine.dispose()
