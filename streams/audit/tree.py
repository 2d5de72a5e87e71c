"""The Merkle tree of the stored ledger, kept in memory and caught up from the database.

Leaf hashes are read from the store in seq order (only those not yet in the
tree), so proofs and checkpoints always reflect committed records. The API and
the checkpointer share one instance; a lock keeps catch-up and reads apart.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine
from sqlmodel import col, select

from services.common.db import reading
from streams.audit.tables import LedgerEntryRow
from streams.ledger.merkle import MerkleTree

_BATCH = 10_000


class LedgerGapError(RuntimeError):
    """The stored ledger misses a sequence number: it must never happen."""


class LedgerTree:
    """An RFC 6962 tree over the stored ledger's leaf hashes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._tree = MerkleTree()
        self._lock = threading.Lock()

    def sync(self) -> int:
        """Add the leaves committed since the last call; return the tree size."""
        with self._lock:
            while True:
                start = self._tree.size
                with reading(self._engine) as session:
                    statement = (
                        select(LedgerEntryRow.seq, LedgerEntryRow.leaf_hash)
                        .where(col(LedgerEntryRow.seq) >= start)
                        .order_by(col(LedgerEntryRow.seq))
                        .limit(_BATCH)
                    )
                    rows = session.exec(statement).all()
                for offset, (seq, _leaf) in enumerate(rows):
                    if seq != start + offset:
                        raise LedgerGapError(
                            f"stored ledger has seq {seq} where {start + offset} belongs"
                        )
                self._tree.extend(leaf for _, leaf in rows)
                if len(rows) < _BATCH:
                    return self._tree.size

    @property
    def size(self) -> int:
        return self._tree.size

    def root(self, tree_size: int) -> bytes:
        with self._lock:
            return self._tree.root(tree_size)

    def leaf(self, index: int) -> bytes:
        with self._lock:
            return self._tree.leaf(index)

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        with self._lock:
            return self._tree.inclusion_proof(index, tree_size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        with self._lock:
            return self._tree.consistency_proof(old_size, new_size)
