"""Signed checkpoints of the stored ledger: when to sign, storing them, reading them back.

The checkpointer signs the current tree head when at least `every` records
are unsigned, or when any are and `interval_s` has passed since the last
checkpoint. The checkpoint row and its `CheckpointSigned` event commit
together (outbox). Timestamps never go back, even if the clock does. The
background checkpointer remembers the last checkpoint it knows, so a check
that finds nothing due costs the tree's catch-up query only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from services.common.db import reading, transaction
from services.common.outbox import add_event
from services.contracts.audit import CheckpointSigned
from streams.audit.ledger_store import SOURCE
from streams.audit.tables import CheckpointRow
from streams.audit.tree import LedgerTree
from streams.ledger.checkpoint import Checkpoint, from_unix_millis, sign_checkpoint, unix_millis

log = logging.getLogger(__name__)


def to_checkpoint(row: CheckpointRow) -> Checkpoint:
    return Checkpoint(
        tree_size=row.tree_size,
        root_hash=row.root_hash,
        timestamp=from_unix_millis(row.timestamp_ms),
        signature=row.signature,
        key_id=row.key_id,
    )


def latest_checkpoint(session: Session) -> Checkpoint | None:
    statement = select(CheckpointRow).order_by(col(CheckpointRow.tree_size).desc()).limit(1)
    row = session.exec(statement).first()
    return None if row is None else to_checkpoint(row)


def checkpoint_of_size(session: Session, tree_size: int) -> Checkpoint | None:
    row = session.get(CheckpointRow, tree_size)
    return None if row is None else to_checkpoint(row)


def list_checkpoints(
    session: Session, *, after_size: int = -1, limit: int = 1000
) -> list[Checkpoint]:
    statement = (
        select(CheckpointRow)
        .where(col(CheckpointRow.tree_size) > after_size)
        .order_by(col(CheckpointRow.tree_size))
        .limit(limit)
    )
    return [to_checkpoint(row) for row in session.exec(statement).all()]


def sign_if_due(
    engine: Engine,
    tree: LedgerTree,
    key: Ed25519PrivateKey,
    *,
    every: int,
    interval_s: float,
    now: datetime | None = None,
) -> Checkpoint | None:
    """Sign and store a checkpoint if the policy says so; return it (None otherwise)."""
    return _sign_if_due(engine, tree, key, tree.sync(), every=every, interval_s=interval_s, now=now)


def is_due(
    size: int, last: Checkpoint | None, moment: datetime, *, every: int, interval_s: float
) -> bool:
    """Whether a tree of `size` records wants a checkpoint after `last` (the policy above)."""
    signed_size = 0 if last is None else last.tree_size
    unsigned = size - signed_size
    if unsigned <= 0:
        return False
    if last is not None and unsigned < every:
        return (moment - last.timestamp).total_seconds() >= interval_s
    return True


def _sign_if_due(
    engine: Engine,
    tree: LedgerTree,
    key: Ed25519PrivateKey,
    size: int,
    *,
    every: int,
    interval_s: float,
    now: datetime | None = None,
) -> Checkpoint | None:
    moment = now or datetime.now(UTC)
    with transaction(engine) as session:
        last = latest_checkpoint(session)
        if not is_due(size, last, moment, every=every, interval_s=interval_s):
            return None
        if last is not None and unix_millis(moment) < unix_millis(last.timestamp):
            moment = last.timestamp
        checkpoint = sign_checkpoint(key, size, tree.root(size), moment)
        session.add(
            CheckpointRow(
                tree_size=checkpoint.tree_size,
                root_hash=checkpoint.root_hash,
                timestamp_ms=unix_millis(checkpoint.timestamp),
                signature=checkpoint.signature,
                key_id=checkpoint.key_id,
            )
        )
        add_event(session, CheckpointSigned(**checkpoint.to_dict()), source=SOURCE)
    return checkpoint


class Checkpointer:
    """Background task: checks a few times a second whether a checkpoint is due."""

    def __init__(
        self,
        engine: Engine,
        tree: LedgerTree,
        key: Ed25519PrivateKey,
        *,
        every: int,
        interval_s: float,
        on_signed: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._tree = tree
        self._key = key
        self._every = every
        self._interval_s = interval_s
        self._on_signed = on_signed
        self.signed = 0
        self._last: Checkpoint | None = None

    def check(self) -> Checkpoint | None:
        size = self._tree.sync()
        if self._last is None:
            with reading(self._engine) as session:
                self._last = latest_checkpoint(session)
        # Checkpoints only grow in size and time, so one not due after the last
        # known is not due after the stored one either: no transaction needed.
        moment = datetime.now(UTC)
        if self._last is not None and not is_due(
            size, self._last, moment, every=self._every, interval_s=self._interval_s
        ):
            return None
        checkpoint = _sign_if_due(
            self._engine,
            self._tree,
            self._key,
            size,
            every=self._every,
            interval_s=self._interval_s,
            now=moment,
        )
        if checkpoint is not None:
            self.signed += 1
            self._last = checkpoint
        return checkpoint

    async def run(self) -> None:
        poll_s = min(0.2, self._interval_s)
        while True:
            started = time.monotonic()
            try:
                signed = await asyncio.to_thread(self.check)
                if signed is not None and self._on_signed is not None:
                    self._on_signed()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("checkpointer failed; retrying", exc_info=True)
            await asyncio.sleep(max(0.0, poll_s - (time.monotonic() - started)))
