"""Transactional outbox: events are rows committed with the state change that caused them.

``add_event`` writes the row in the caller's transaction; ``OutboxRelay``
publishes unpublished rows in order and marks them. A relay killed between
publish and mark publishes again after restart: consumers dedupe by event id.
``mark_for_replay`` makes rows publish again; a relay's mark never undoes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Index, Table, bindparam, insert, update
from sqlmodel import Field, Session, SQLModel, col, select

from services.common.db import read_connection, reading, transaction
from services.common.events import KafkaRecord, to_record
from services.common.faults import OUTBOX_AFTER_COMMIT, OUTBOX_AFTER_PUBLISH, FaultInjector
from services.common.observability import current_traceparent
from services.common.wakeup import Wakeup
from services.contracts.envelope import Envelope, EventPayload

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxRow(SQLModel, table=True):
    """One event waiting to be (or already) published."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "seq"),)

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=64)
    topic: str = Field(max_length=200)
    key: str = Field(max_length=200)
    event_type: str = Field(max_length=200)
    envelope_json: str
    created_at: datetime = Field(default_factory=_utcnow)
    published_at: datetime | None = Field(default=None)
    #: How often an operator asked for this row to be published again: a relay marks a
    #: row only if it is the one it read, so a replay asked for meanwhile still happens.
    replays: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


#: The outbox as a Core table, for writers and the relay that skip the ORM.
OUTBOX_TABLE: Table = OutboxRow.__table__  # type: ignore[attr-defined]
_ADD = insert(OUTBOX_TABLE)


def add_event(
    session: Session,
    payload: EventPayload,
    *,
    source: str,
    traceparent: str | None = None,
) -> Envelope:
    """Stage ``payload`` for publication in the caller's transaction (in the current trace)."""
    envelope = Envelope.wrap(
        payload, source=source, traceparent=traceparent or current_traceparent()
    )
    # A Core statement built once, not an ORM entity flushed at commit: every event
    # pays for it, and the ORM's unit of work doubles the CPU of a small transaction.
    insert_outbox_rows(session.connection(), [_insert_values(payload, envelope)])
    note_staged(session)
    return envelope


def insert_outbox_rows(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows made by ``outbox_row_values`` in the connection's transaction (one INSERT)."""
    connection.execute(_ADD, rows)


_STAGED = "vndx_outbox_staged"


def note_staged(session: Session) -> None:
    """Remember that ``session`` staged an event (for writers that insert rows themselves)."""
    session.info[_STAGED] = True


def has_staged_events(session: Session) -> bool:
    return bool(session.info.get(_STAGED))


def outbox_row_values(payload: EventPayload, *, source: str) -> dict[str, Any]:
    """The outbox row ``add_event`` would stage (in the current trace), as plain values,
    for writers that insert many rows in one statement."""
    envelope = Envelope.wrap(payload, source=source, traceparent=current_traceparent())
    return _insert_values(payload, envelope)


def _insert_values(payload: EventPayload, envelope: Envelope) -> dict[str, Any]:
    return {
        "event_id": envelope.id,
        "topic": payload.topic,
        "key": envelope.subject,
        "event_type": envelope.type,
        "envelope_json": envelope.model_dump_json(),
        "created_at": envelope.time,
        "published_at": None,
        "replays": 0,
    }


class PendingEvent(NamedTuple):
    """An unpublished outbox row: just what the relay sends."""

    seq: int
    topic: str
    envelope_json: str
    replays: int


class Acknowledged(NamedTuple):
    """A published row waiting to be marked: when the broker had it, and which replay."""

    at: datetime
    replays: int


_PENDING = (
    select(
        OUTBOX_TABLE.c.seq,
        OUTBOX_TABLE.c.topic,
        OUTBOX_TABLE.c.envelope_json,
        OUTBOX_TABLE.c.replays,
    )
    .where(OUTBOX_TABLE.c.published_at.is_(None))
    .order_by(OUTBOX_TABLE.c.seq)
    .limit(bindparam("limit"))
)
_MARK = (
    update(OUTBOX_TABLE)
    .where(OUTBOX_TABLE.c.seq == bindparam("marked_seq"))
    .where(OUTBOX_TABLE.c.replays == bindparam("read_replays"))
    .values(published_at=bindparam("acknowledged_at"))
)


def pending_rows(engine: Engine, limit: int, skip: Collection[int] = ()) -> list[PendingEvent]:
    """The oldest unpublished rows, leaving out ``skip`` (published, not yet marked)."""
    # Plain SQL rows, not ORM objects: the relay looks after every commit, and a
    # session with its identity map costs more than the query itself.
    with read_connection(engine) as connection:
        rows = connection.execute(_PENDING, {"limit": limit + len(skip)}).all()
    return [PendingEvent(*row) for row in rows if row.seq not in skip][:limit]


def mark_published(engine: Engine, rows: Sequence[PendingEvent]) -> None:
    """Mark rows read by ``pending_rows`` as published now."""
    now = _utcnow()
    mark_acknowledged(engine, {row.seq: Acknowledged(now, row.replays) for row in rows})


def mark_acknowledged(engine: Engine, acknowledged: Mapping[int, Acknowledged]) -> None:
    """Mark each row as published at its own acknowledgement time, in one transaction.

    A row replayed since it was read is left unpublished, to go out again."""
    if not acknowledged:
        return
    with engine.begin() as connection:
        connection.execute(
            _MARK,
            [
                {"marked_seq": seq, "read_replays": ack.replays, "acknowledged_at": ack.at}
                for seq, ack in acknowledged.items()
            ],
        )


def mark_for_replay(engine: Engine, since: datetime) -> int:
    """Make every event created since ``since`` publish again; return how many."""
    with transaction(engine) as session:
        result = session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.created_at) >= since)
            .values(published_at=None, replays=col(OutboxRow.replays) + 1)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def backlog(engine: Engine) -> int:
    """Number of events not yet published."""
    with reading(engine) as session:
        rows = session.exec(
            select(OutboxRow.seq).where(col(OutboxRow.published_at).is_(None))
        ).all()
        return len(rows)


Publish = Callable[[list[KafkaRecord]], Awaitable[None]]


class OutboxRelay:
    """Publishes committed outbox rows, oldest first, then marks them.

    While running, marking happens beside publishing: the next rows go out while the
    previous ones wait for the write lock to be marked. Rows published but not yet
    marked are remembered so that they are not published twice; a crash before their
    mark publishes them again, which consumers dedupe.
    """

    def __init__(
        self,
        engine: Engine,
        publish: Publish,
        *,
        poll_interval_s: float = 0.5,
        batch_size: int = 500,
        faults: FaultInjector | None = None,
        read_inline: bool = False,
        mark_every_s: float = 0.1,
    ) -> None:
        """``read_inline``: look for pending rows on the event loop, not in a worker
        thread (SQLite in WAL mode: a read never waits for a writer).
        ``mark_every_s``: how long acknowledgements gather before they are marked."""
        self._engine = engine
        self.read_inline = read_inline
        self._publish = publish
        self._poll_interval_s = poll_interval_s
        self._mark_every_s = mark_every_s
        self._batch_size = batch_size
        self._faults = faults or FaultInjector()
        self._wakeup = Wakeup()
        self._unmarked: dict[int, Acknowledged] = {}  # seq → broker acknowledgement
        self._marks_waiting = asyncio.Event()

    def wake(self) -> None:
        """Ask the relay to look for new rows now (called after a commit, from any thread)."""
        self._wakeup.set()

    async def _publish_batch(self) -> int:
        """Publish one batch of pending rows, leaving them to be marked; return how many."""
        looking = functools.partial(
            pending_rows, self._engine, self._batch_size, set(self._unmarked)
        )
        # A hop to a worker thread and back costs two wake-ups, and on a busy machine
        # each waits for a core and for the GIL: on the event's path, that is latency.
        rows = looking() if self.read_inline else await asyncio.to_thread(looking)
        if not rows:
            return 0
        self._faults.maybe_crash(OUTBOX_AFTER_COMMIT)
        records = [
            to_record(row.topic, Envelope.model_validate_json(row.envelope_json)) for row in rows
        ]
        await self._publish(records)
        # The time the broker had them, not the time the marking got the write lock.
        acknowledged = _utcnow()
        self._faults.maybe_crash(OUTBOX_AFTER_PUBLISH)
        self._unmarked.update((row.seq, Acknowledged(acknowledged, row.replays)) for row in rows)
        self._marks_waiting.set()
        return len(rows)

    async def _mark(self) -> None:
        """Mark what was published so far; on failure it stays remembered for the next try."""
        self._marks_waiting.clear()
        marking = dict(self._unmarked)
        if not marking:
            return
        await asyncio.to_thread(mark_acknowledged, self._engine, marking)
        for seq in marking:
            self._unmarked.pop(seq, None)

    async def _mark_forever(self) -> None:
        delay = self._poll_interval_s
        while True:
            await self._marks_waiting.wait()
            # One write for every publish would take the write lock as often as the
            # service's own work does; gathered, a steady rate costs a few marks a second.
            await asyncio.sleep(self._mark_every_s)
            try:
                await self._mark()
                delay = self._poll_interval_s
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox relay could not mark published rows; retrying", exc_info=True)
                self._marks_waiting.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def run(self) -> None:
        """Relay forever; broker errors are retried with backoff, never fatal."""
        self._wakeup.bind()
        marker = asyncio.create_task(self._mark_forever(), name="outbox-marker")
        try:
            await self._relay_forever()
        finally:
            marker.cancel()
            with contextlib.suppress(BaseException):
                await marker
            # Marks left now would only mean the rows are published again after a restart.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await asyncio.shield(self._mark())

    async def _relay_forever(self) -> None:
        delay = self._poll_interval_s
        while True:
            # Cleared before looking, so a commit made while publishing wakes the next round.
            self._wakeup.clear()
            try:
                while await self._publish_batch() == self._batch_size:
                    if len(self._unmarked) >= 4 * self._batch_size:
                        await self._mark()  # the database falls behind: wait for it
                delay = self._poll_interval_s
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox relay could not publish; retrying", exc_info=True)
                delay = min(delay * 2, 5.0)
            await self._wakeup.wait(delay)
