"""Reading the stored ledger for one caller: who may see which records, filters, pages.

Regulators and operators see every record; a buyer sees the records whose
buyer organisation is theirs; a provider those whose publisher is theirs.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import false, or_
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import Session, col, select

from services.common.auth import Principal
from streams.audit.tables import LedgerEntryRow
from streams.ledger.records import format_time

TYPE_PREFIX = "vn.vndx."


@dataclass(frozen=True)
class RecordFilter:
    """What a caller asked for; every field optional."""

    org: str | None = None
    listing: str | None = None
    grant: str | None = None
    type: str | None = None
    """One type or several, comma-separated (full or short names)."""
    since: datetime | None = None
    until: datetime | None = None


def sees_everything(principal: Principal) -> bool:
    return principal.role in ("regulator", "operator")


def _scoped(statement: Select[Any], principal: Principal) -> Select[Any]:
    if sees_everything(principal):
        return statement
    if principal.role == "buyer":
        return statement.where(col(LedgerEntryRow.buyer_org) == principal.org)
    if principal.role == "provider":
        return statement.where(col(LedgerEntryRow.publisher_org) == principal.org)
    return statement.where(false())


def _filtered(statement: Select[Any], wanted: RecordFilter) -> Select[Any]:
    if wanted.org:
        statement = statement.where(
            or_(
                col(LedgerEntryRow.buyer_org) == wanted.org,
                col(LedgerEntryRow.publisher_org) == wanted.org,
            )
        )
    if wanted.listing:
        statement = statement.where(col(LedgerEntryRow.listing_id) == wanted.listing)
    if wanted.grant:
        statement = statement.where(col(LedgerEntryRow.grant_id) == wanted.grant)
    if wanted.type:
        names = [name.strip() for name in wanted.type.split(",") if name.strip()]
        statement = statement.where(or_(*(_type_matches(name) for name in names)))
    if wanted.since:
        statement = statement.where(col(LedgerEntryRow.occurred_at) >= _utc(wanted.since))
    if wanted.until:
        statement = statement.where(col(LedgerEntryRow.occurred_at) < _utc(wanted.until))
    return statement


def _type_matches(name: str) -> ColumnElement[bool]:
    """A full type matches itself; a short name such as "grant.issued" every version of it."""
    if name.startswith(TYPE_PREFIX):
        return col(LedgerEntryRow.event_type) == name
    return col(LedgerEntryRow.event_type).like(f"{TYPE_PREFIX}%.{name}.v%")


MAX_SEQ = 2**63 - 1
"""The largest sequence number a 64-bit column holds; cursors beyond it are refused."""


def _utc(moment: datetime) -> datetime:
    # The column type stores UTC and insists on aware values.
    return moment.astimezone(UTC)


def page_records(
    session: Session,
    principal: Principal,
    wanted: RecordFilter,
    *,
    after: int = -1,
    limit: int = 100,
) -> list[LedgerEntryRow]:
    """Visible records matching `wanted` with seq > `after`, oldest first."""
    statement: Select[Any] = select(LedgerEntryRow).where(col(LedgerEntryRow.seq) > after)
    statement = _filtered(_scoped(statement, principal), wanted)
    statement = statement.order_by(col(LedgerEntryRow.seq)).limit(limit)
    return list(session.exec(statement).all())  # type: ignore[call-overload]


def visible_record(session: Session, principal: Principal, seq: int) -> LedgerEntryRow | None:
    statement: Select[Any] = select(LedgerEntryRow).where(col(LedgerEntryRow.seq) == seq)
    rows = session.exec(_scoped(statement, principal)).all()  # type: ignore[call-overload]
    return rows[0] if rows else None


def record_view(row: LedgerEntryRow) -> dict[str, Any]:
    """The JSON form of a stored record: index columns, leaf hash and the record itself."""
    occurred = row.occurred_at if row.occurred_at.tzinfo else row.occurred_at.replace(tzinfo=UTC)
    return {
        "seq": row.seq,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "occurred_at": format_time(occurred),
        "buyer_org": row.buyer_org,
        "publisher_org": row.publisher_org,
        "listing_id": row.listing_id,
        "grant_id": row.grant_id,
        "order_id": row.order_id,
        "leaf_hash": base64.b64encode(row.leaf_hash).decode("ascii"),
        "record": json.loads(row.record),
        # The stored canonical bytes: a verifier hashes them as they are instead of
        # canonicalising `record` again (RFC 8785 in Python costs ~100x the hash).
        "record_b64": base64.b64encode(row.record).decode("ascii"),
    }
