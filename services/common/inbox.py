"""Inbox: the ids of events a consumer group has already applied.

Written in the same transaction as the effect, so a redelivered event is a no-op.
The lookup and the insert are Core statements built once: every consumed event
pays for them, and through the ORM (an entity per row, a statement built and keyed
per call) they cost between two and three times as much CPU
(``tests/bench/bench_db_overhead``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Table, bindparam, insert, select
from sqlmodel import Field, Session, SQLModel


def _utcnow() -> datetime:
    return datetime.now(UTC)


class InboxRow(SQLModel, table=True):
    """An event applied by one consumer group."""

    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(primary_key=True, max_length=64)
    processed_at: datetime = Field(default_factory=_utcnow)


INBOX_TABLE: Table = InboxRow.__table__  # type: ignore[attr-defined]

_PROCESSED_AMONG = select(INBOX_TABLE.c.event_id).where(
    INBOX_TABLE.c.consumer == bindparam("consumer"),
    INBOX_TABLE.c.event_id.in_(bindparam("event_ids", expanding=True)),
)
_RECORD = insert(INBOX_TABLE)


def already_processed(session: Session, consumer: str, event_id: str) -> bool:
    return bool(processed_among(session, consumer, [event_id]))


def record_processed(session: Session, consumer: str, event_id: str) -> None:
    record_all_processed(session, consumer, [event_id])


def record_all_processed(session: Session, consumer: str, event_ids: Sequence[str]) -> None:
    """Mark ``event_ids`` as applied by ``consumer`` in the session's transaction (one INSERT)."""
    if not event_ids:
        return
    now = _utcnow()
    session.connection().execute(
        _RECORD,
        [
            {"consumer": consumer, "event_id": event_id, "processed_at": now}
            for event_id in event_ids
        ],
    )


def processed_among(session: Session, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """The ids among ``event_ids`` that ``consumer`` has already applied (one query)."""
    if not event_ids:
        return set()
    found = session.connection().execute(
        _PROCESSED_AMONG, {"consumer": consumer, "event_ids": list(event_ids)}
    )
    return set(found.scalars())
