"""Appending to the stored ledger: one row per event, once, at the next sequence number.

`append_entry` runs inside the caller's transaction (the consumer's, inbox
included): it allocates the next `seq` under a lock on the head row, stores
the canonical record bytes and leaf hash, and stages `LedgerRecordAppended`
in the outbox. An event id already in the ledger is a no-op, so a redelivered
event never becomes a second leaf.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from services.common.db import transaction
from services.common.outbox import add_event
from services.contracts.audit import LedgerRecordAppended
from streams.audit.tables import LedgerEntryRow, LedgerHeadRow
from streams.ledger.merkle import leaf_hash
from streams.ledger.records import LedgerRecord

SOURCE = "/vndx/audit"


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


def ensure_head(engine: Engine) -> None:
    """Create the head row once, so that appends only ever lock and update it."""
    with transaction(engine) as session:
        if session.get(LedgerHeadRow, 1) is None:
            session.add(LedgerHeadRow(id=1, size=0))


def is_recorded(session: Session, event_id: str) -> bool:
    statement = select(LedgerEntryRow.seq).where(col(LedgerEntryRow.event_id) == event_id)
    return session.exec(statement).first() is not None


def append_entry(session: Session, entry: AuditEntry, *, now: datetime | None = None) -> int | None:
    """Append `entry` at the next seq and stage its event; None if its event id is recorded."""
    if is_recorded(session, entry.event_id):
        return None
    head = _locked_head(session)
    seq = head.size
    record = LedgerRecord(
        seq=seq,
        event_id=entry.event_id,
        event_type=entry.event_type,
        occurred_at=entry.occurred_at,
        recorded_at=now or datetime.now(UTC),
        org=entry.buyer_org,
        listing_id=entry.listing_id,
        grant_id=entry.grant_id,
        order_id=entry.order_id,
        data=entry.data,
    )
    raw = record.to_bytes()
    leaf = leaf_hash(raw)
    session.add(
        LedgerEntryRow(
            seq=seq,
            event_id=entry.event_id,
            event_type=entry.event_type,
            occurred_at=record.occurred_at,
            buyer_org=entry.buyer_org,
            publisher_org=entry.publisher_org,
            listing_id=entry.listing_id,
            grant_id=entry.grant_id,
            order_id=entry.order_id,
            record=raw,
            leaf_hash=leaf,
        )
    )
    head.size = seq + 1
    session.add(head)
    add_event(
        session,
        LedgerRecordAppended(
            seq=seq, record=json.loads(raw), leaf_hash=base64.b64encode(leaf).decode("ascii")
        ),
        source=SOURCE,
    )
    return seq


def _locked_head(session: Session) -> LedgerHeadRow:
    """The head row, locked once per transaction (a batch appends many records under one lock)."""
    current = session.get_transaction()
    cached = session.info.get(_HEAD_KEY)
    if cached is not None and current is not None and cached[0] is current:
        held: LedgerHeadRow = cached[1]
        return held
    head = session.get(LedgerHeadRow, 1, with_for_update=True)
    if head is None:
        head = LedgerHeadRow(id=1, size=0)
        session.add(head)
    session.info[_HEAD_KEY] = (current, head)
    return head


_HEAD_KEY = "audit_ledger_head"


def ledger_size(session: Session) -> int:
    head = session.get(LedgerHeadRow, 1)
    return 0 if head is None else head.size
