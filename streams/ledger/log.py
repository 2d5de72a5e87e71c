"""The append side of the ledger: records in, tree grown, checkpoints signed.

`AuditLog` holds the Merkle tree of the records appended so far (in memory;
the records themselves are published and stored by the caller) and signs
checkpoints on request. When to checkpoint (every N records or T seconds) is
the audit worker's policy, not this class's.
"""

from __future__ import annotations

from datetime import datetime
from hashlib import sha256

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streams.ledger.checkpoint import Checkpoint, sign_checkpoint
from streams.ledger.merkle import MerkleTree
from streams.ledger.records import LedgerRecord, quick_check


class AuditLog:
    """An append-only ledger in memory: a Merkle tree of record bytes and a signing key."""

    def __init__(self, signing_key: Ed25519PrivateKey) -> None:
        self._signing_key = signing_key
        self._tree = MerkleTree()

    @property
    def size(self) -> int:
        """Number of records appended; also the seq the next record must carry."""
        return self._tree.size

    @property
    def tree(self) -> MerkleTree:
        """The Merkle tree (read it for roots and proofs; append through this class)."""
        return self._tree

    def append(self, record: LedgerRecord) -> bytes:
        """Append `record` (its seq must be `size`); return the bytes to store and publish."""
        if record.seq != self.size:
            raise ValueError(f"record seq {record.seq} is not the next position {self.size}")
        raw = record.to_bytes()
        self._tree.append(sha256(b"\x00" + raw).digest())
        return raw

    def append_bytes(self, raw: bytes) -> None:
        """Append a record already serialised by `LedgerRecord.to_bytes` (e.g. on replay)."""
        if not quick_check(raw, self.size):
            raise ValueError(f"bytes are not a self-consistent record with seq {self.size}")
        self._tree.append(sha256(b"\x00" + raw).digest())

    def checkpoint(self, now: datetime) -> Checkpoint:
        """Sign the current tree size and root at time `now` (timezone-aware)."""
        return sign_checkpoint(self._signing_key, self.size, self._tree.root(), now)
