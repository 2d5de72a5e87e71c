"""Inbox: the ids of events a consumer group has already applied.

Written in the same transaction as the effect, so a redelivered event is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import Field, Session, SQLModel, col, select


def _utcnow() -> datetime:
    return datetime.now(UTC)


class InboxRow(SQLModel, table=True):
    """An event applied by one consumer group."""

    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(primary_key=True, max_length=64)
    processed_at: datetime = Field(default_factory=_utcnow)


def already_processed(session: Session, consumer: str, event_id: str) -> bool:
    return session.get(InboxRow, (consumer, event_id)) is not None


def record_processed(session: Session, consumer: str, event_id: str) -> None:
    session.add(InboxRow(consumer=consumer, event_id=event_id))


def processed_among(session: Session, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """The ids among ``event_ids`` that ``consumer`` has already applied (one query)."""
    if not event_ids:
        return set()
    statement = select(InboxRow.event_id).where(
        col(InboxRow.consumer) == consumer, col(InboxRow.event_id).in_(event_ids)
    )
    return set(session.exec(statement).all())
