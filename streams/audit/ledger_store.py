"""Appending to the stored ledger: one row per event, once, at the next sequence number.

`append_entry` runs inside the caller's transaction (the consumer's, inbox
included): it allocates the next `seq` under a lock on the head row, prepares
the canonical record bytes and leaf hash, and stages `LedgerRecordAppended`
for the outbox. An event id already in the ledger is a no-op, so a redelivered
event never becomes a second leaf.

A batch of appends costs two statements, not two per event: the prepared
ledger and outbox rows are written with one multi-row INSERT each whenever
the session flushes (before any query that autoflushes, and at commit), and
`is_recorded` answers "already in the ledger?" for a whole batch with one
query. Both live with the transaction: a rollback forgets them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from services.common.db import transaction
from services.common.outbox import insert_outbox_rows, outbox_row_values
from services.contracts.audit import LedgerRecordAppended
from streams.audit.batches import batch_values
from streams.audit.tables import LedgerEntryRow, LedgerHeadRow
from streams.ledger.merkle import leaf_hash
from streams.ledger.records import LedgerRecord

SOURCE = "/vndx/audit"

_LEDGER = LedgerEntryRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AuditEntry:
    """What the ledger records about one event, before it has a position."""

    event_id: str
    event_type: str
    occurred_at: datetime
    buyer_org: str | None = None
    publisher_org: str | None = None
    listing_id: str | None = None
    grant_id: str | None = None
    order_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Appends:
    """What one transaction knows and has prepared about the ledger."""

    transaction: Any
    head: LedgerHeadRow | None = None
    recorded: dict[str, bool] = field(default_factory=dict)
    ledger_rows: list[dict[str, Any]] = field(default_factory=list)
    outbox_rows: list[dict[str, Any]] = field(default_factory=list)


_KEY = "audit_ledger_appends"


def _appends(session: OrmSession) -> _Appends:
    """This transaction's ledger state (fresh for every transaction)."""
    current = session.get_transaction()
    if current is None:  # begin now, so that the state belongs to the transaction that writes it
        session.connection()
        current = session.get_transaction()
    held: _Appends | None = session.info.get(_KEY)
    if held is None or held.transaction is not current:
        held = _Appends(current)
        session.info[_KEY] = held
    return held


def ensure_head(engine: Engine) -> None:
    """Create the head row once, so that appends only ever lock and update it."""
    with transaction(engine) as session:
        if session.get(LedgerHeadRow, 1) is None:
            session.add(LedgerHeadRow(id=1, size=0))


def note_recorded(session: Session, event_ids: list[str]) -> None:
    """Learn with one query which of `event_ids` the ledger holds (for `is_recorded`)."""
    recorded = _appends(session).recorded
    unknown = [event_id for event_id in dict.fromkeys(event_ids) if event_id not in recorded]
    if not unknown:
        return
    statement = select(LedgerEntryRow.event_id).where(col(LedgerEntryRow.event_id).in_(unknown))
    found = set(session.exec(statement).all())
    for event_id in unknown:
        recorded[event_id] = event_id in found


def is_recorded(session: Session, event_id: str) -> bool:
    """Whether the ledger holds `event_id` (asked once for every event of the batch)."""
    recorded = _appends(session).recorded
    if event_id not in recorded:
        note_recorded(session, [event_id, *batch_values(session, "id")])
    return recorded[event_id]


def append_entry(session: Session, entry: AuditEntry, *, now: datetime | None = None) -> int | None:
    """Append `entry` at the next seq and stage its event; None if its event id is recorded."""
    if is_recorded(session, entry.event_id):
        return None
    appends = _appends(session)
    head = _locked_head(session, appends)
    seq = head.size
    record = _record(seq, entry, now or datetime.now(UTC))
    raw = record.to_bytes()
    leaf = leaf_hash(raw)
    appends.ledger_rows.append(
        {
            "seq": seq,
            "event_id": entry.event_id,
            "event_type": entry.event_type,
            "occurred_at": record.occurred_at,
            "buyer_org": entry.buyer_org,
            "publisher_org": entry.publisher_org,
            "listing_id": entry.listing_id,
            "grant_id": entry.grant_id,
            "order_id": entry.order_id,
            "record": raw,
            "leaf_hash": leaf,
        }
    )
    appended = LedgerRecordAppended(
        seq=seq, record=json.loads(raw), leaf_hash=base64.b64encode(leaf).decode("ascii")
    )
    appends.outbox_rows.append(outbox_row_values(appended, source=SOURCE))
    appends.recorded[entry.event_id] = True
    # Changing the head marks the session dirty, so the next flush writes the rows above.
    head.size = seq + 1
    return seq


def _record(seq: int, entry: AuditEntry, recorded_at: datetime) -> LedgerRecord:
    """The record of `entry` at `seq`.

    `to_bytes` canonicalises `data` (and fails on what is not JSON), so validating
    the record first would do that twice; the times, the one thing validation
    adds, are made UTC here. A naive time goes through validation, which refuses it.
    """
    fields: dict[str, Any] = {
        "seq": seq,
        "event_id": entry.event_id,
        "event_type": entry.event_type,
        "org": entry.buyer_org,
        "listing_id": entry.listing_id,
        "grant_id": entry.grant_id,
        "order_id": entry.order_id,
        "data": entry.data,
    }
    if entry.occurred_at.utcoffset() is None or recorded_at.utcoffset() is None:
        return LedgerRecord(occurred_at=entry.occurred_at, recorded_at=recorded_at, **fields)
    return LedgerRecord.model_construct(
        occurred_at=entry.occurred_at.astimezone(UTC),
        recorded_at=recorded_at.astimezone(UTC),
        **fields,
    )


@event.listens_for(OrmSession, "before_flush")
def _write_prepared(session: OrmSession, _context: Any, _instances: Any) -> None:
    """Write the appends prepared since the last flush: one INSERT for each table."""
    held: _Appends | None = session.info.get(_KEY)
    if held is None or held.transaction is not session.get_transaction():
        return
    if not held.ledger_rows:
        return
    connection = session.connection()
    ledger_rows, outbox_rows = held.ledger_rows, held.outbox_rows
    held.ledger_rows, held.outbox_rows = [], []
    connection.execute(_LEDGER.insert(), ledger_rows)
    insert_outbox_rows(connection, outbox_rows)


def _locked_head(session: Session, appends: _Appends) -> LedgerHeadRow:
    """The head row, locked once per transaction (a batch appends many records under one lock)."""
    if appends.head is None:
        head = session.get(LedgerHeadRow, 1, with_for_update=True)
        if head is None:
            head = LedgerHeadRow(id=1, size=0)
            session.add(head)
        appends.head = head
    return appends.head


def ledger_size(session: Session) -> int:
    head = session.get(LedgerHeadRow, 1)
    return 0 if head is None else head.size
