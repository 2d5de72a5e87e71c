"""Applying audit events in batches: one database transaction per batch, each event once.

The audit worker receives events a batch at a time. `BatchApplier.apply_batch`
runs every handled event of a batch and its inbox row in a single
transaction, so a batch costs one commit instead of one per event (SQLite's
commit dominates the per-event cost). An event already in the inbox — a
redelivery after a crash, or the same event twice in one batch — changes
nothing. If the batch fails, nothing of it is kept and the caller applies its
events one by one, each with retries, parking one that keeps failing on the
dead-letter topic: a poison event never blocks the rest and never leaves a
half-written batch.

While a batch applies, `batch_values` names what its new events carry (event
ids, grant, listing and order ids), so that a handler missing one fact looks
up the facts of the whole batch with one query instead of one per event. The
batch's inbox rows are written with one INSERT.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from services.common.consumer import ConsumerStats, Handler, PoisonEvent
from services.common.db import transaction
from services.common.events import KafkaRecord, MalformedEvent, from_record
from services.common.inbox import processed_among, record_all_processed
from services.common.observability import CURRENT_TRACEPARENT, child_traceparent
from services.contracts.envelope import Envelope, EventPayload, payload_class

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admitted:
    """An event the worker handles, parsed and validated, with the record it came in."""

    record: KafkaRecord
    envelope: Envelope
    payload: EventPayload
    origin: str = ""
    """``topic/partition/offset/group``, named on the dead-letter topic if it fails."""


_BATCH = "audit_batch"


def batch_items(session: Session) -> Sequence[Admitted]:
    """The new events of the batch this transaction applies (none outside one)."""
    held = session.info.get(_BATCH)
    if held is None or held[0] is not session.get_transaction():
        return ()
    items: Sequence[Admitted] = held[1]
    return items


def batch_values(session: Session, name: str) -> list[str]:
    """The `name` of each new event of the batch this transaction applies ([] outside one).

    ``"id"`` is the event id; any other name is read from the payload (and from a
    listing snapshot), where it is a string.
    """
    items = batch_items(session)
    if name == "id":
        return [item.envelope.id for item in items]
    values: list[str] = []
    for item in items:
        value = getattr(item.payload, name, None)
        if value is None:
            value = getattr(getattr(item.payload, "listing", None), name, None)
        if isinstance(value, str):
            values.append(value)
    return values


def family(event_type: str) -> str:
    """``vn.vndx.x.y.v3`` -> ``vn.vndx.x.y``: the event regardless of its version."""
    head, _, tail = event_type.rpartition(".")
    return head if tail.startswith("v") and tail[1:].isdigit() else event_type


class BatchApplier:
    """Applies handled events exactly once (inbox), a batch per transaction."""

    def __init__(
        self,
        engine: Engine,
        consumer: str,
        handlers: Mapping[str, Handler],
        *,
        max_event_bytes: int,
        stats: ConsumerStats | None = None,
    ) -> None:
        self.engine = engine
        self.consumer = consumer
        self.handlers = dict(handlers)
        self.max_event_bytes = max_event_bytes
        self.stats = stats or ConsumerStats()
        self._families = {family(t) for t in self.handlers}

    def admit(self, record: KafkaRecord, origin: str = "") -> Admitted | None:
        """The event in `record` if it is handled; None if not ours; PoisonEvent if unusable."""
        if len(record.value) > self.max_event_bytes:
            raise PoisonEvent(f"oversized: {len(record.value)} bytes")
        try:
            envelope = from_record(record)
        except MalformedEvent as exc:
            raise PoisonEvent(f"malformed: {exc}") from exc
        if envelope.type not in self.handlers:
            if family(envelope.type) in self._families and payload_class(envelope.type) is None:
                raise PoisonEvent(f"unknown version: {envelope.type}")
            return None
        try:
            payload = envelope.payload()
        except ValidationError as exc:
            first = exc.errors()[0]
            raise PoisonEvent(f"schema: {first['msg']} at {first['loc']}") from exc
        return Admitted(record, envelope, payload, origin)

    def apply_batch(self, batch: Sequence[Admitted]) -> int:
        """Apply every event of `batch` not yet applied, in one transaction; return how many."""
        with transaction(self.engine) as session:
            seen = processed_among(session, self.consumer, [item.envelope.id for item in batch])
            fresh: list[Admitted] = []
            for item in batch:
                if item.envelope.id not in seen:
                    seen.add(item.envelope.id)
                    fresh.append(item)
            session.info[_BATCH] = (session.get_transaction(), fresh)
            for item in fresh:
                self._apply(session, item)
            record_all_processed(session, self.consumer, [item.envelope.id for item in fresh])
        self.stats.applied += len(fresh)
        self.stats.duplicates += len(batch) - len(fresh)
        return len(fresh)

    def _apply(self, session: Session, item: Admitted) -> None:
        envelope = item.envelope
        # Events the handlers stage (ledger records) join the source event's trace.
        token = CURRENT_TRACEPARENT.set(child_traceparent(envelope.traceparent))
        try:
            self.handlers[envelope.type](session, envelope, item.payload)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "recording %s",
                    envelope.type,
                    extra={
                        "fields": {
                            "event_type": envelope.type,
                            "event_id": envelope.id,
                            "subject": envelope.subject,
                            "consumer": self.consumer,
                        }
                    },
                )
        finally:
            CURRENT_TRACEPARENT.reset(token)
