"""Offline verification of a whole ledger against its signed checkpoints.

`verify_ledger` is what `vndx audit verify` runs. In one pass over the
records, in order, it checks that:

- every checkpoint is signed by the given key, and checkpoints do not go
  back in time as the tree grows;
- record i ends with seq i, so a missing, duplicated or reordered record is
  named at the first position it affects;
- each checkpoint's root equals the root recomputed from the first
  `tree_size` records, and consecutive checkpoints are consistent (RFC 9162
  consistency proof, computed from the records, verified);
- no checkpoint covers more records than were supplied;
- where any of this fails, and for records after the last checkpoint, each
  record's own digest (`records.quick_check`): a changed byte is named at
  its record. Records under a verified checkpoint need no digest check, as
  the signature covers their exact bytes; skipping it is what keeps the
  pass at a few microseconds per record.

It keeps the records since the last verified checkpoint (references, not
copies) to be able to name the bad one.

Records after the last checkpoint are checked record by record but are not
covered by a signature yet; `VerifyReport.verified_size` says how far the
signatures reach.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from hashlib import sha256
from itertools import pairwise

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from streams.ledger.checkpoint import Checkpoint, CheckpointError, unix_millis
from streams.ledger.merkle import EMPTY_ROOT, MerkleTree
from streams.ledger.records import LedgerRecord, RecordError, quick_check
from streams.ledger.verify import ProofError, verify_consistency

_TREE_BATCH = 4096


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of `verify_ledger`.

    `first_bad_index` is the first record position found wrong (None when the
    problem is not a record); `bad_checkpoint` is the failing checkpoint's
    position in the list given. `verified_size` is the size of the largest
    checkpoint verified: records below it are covered by a signature.
    """

    ok: bool
    records_checked: int
    checkpoints_checked: int
    verified_size: int
    first_bad_index: int | None = None
    bad_checkpoint: int | None = None
    reason: str | None = None


class _Failure(Exception):
    def __init__(
        self, reason: str, *, index: int | None = None, checkpoint: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.index = index
        self.checkpoint = checkpoint


class _Progress:
    """Counters the report needs, whichever way verification ends."""

    def __init__(self) -> None:
        self.records = 0
        self.checkpoints = 0
        self.verified_size = 0
        self.last_verified: Checkpoint | None = None


def verify_ledger(
    records: Iterable[bytes | LedgerRecord],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey,
) -> VerifyReport:
    """Verify `records` (in seq order) against signed `checkpoints`; report the first fault."""
    progress = _Progress()
    try:
        order = _checked_order(checkpoints, public_key, progress)
        _verify_records(records, checkpoints, order, progress)
    except _Failure as failure:
        return VerifyReport(
            ok=False,
            records_checked=progress.records,
            checkpoints_checked=progress.checkpoints,
            verified_size=progress.verified_size,
            first_bad_index=failure.index,
            bad_checkpoint=failure.checkpoint,
            reason=failure.reason,
        )
    return VerifyReport(
        ok=True,
        records_checked=progress.records,
        checkpoints_checked=progress.checkpoints,
        verified_size=progress.verified_size,
    )


def _checked_order(
    checkpoints: Sequence[Checkpoint], public_key: Ed25519PublicKey, progress: _Progress
) -> list[int]:
    """Positions of the non-empty checkpoints by tree size, after checking signatures and times.

    Checkpoints of size 0 are fully checked here (their root is fixed).
    """
    for position, checkpoint in enumerate(checkpoints):
        try:
            checkpoint.verify(public_key)
        except CheckpointError as exc:
            raise _Failure(f"checkpoint #{position}: {exc}", checkpoint=position) from exc
    order = sorted(
        range(len(checkpoints)),
        key=lambda p: (checkpoints[p].tree_size, unix_millis(checkpoints[p].timestamp)),
    )
    for earlier, later in pairwise(order):
        if checkpoints[later].timestamp < checkpoints[earlier].timestamp:
            raise _Failure(
                f"checkpoint #{later} (size {checkpoints[later].tree_size}) is dated before "
                f"checkpoint #{earlier} (size {checkpoints[earlier].tree_size}), which it extends",
                checkpoint=later,
            )
    for position in order:
        checkpoint = checkpoints[position]
        if checkpoint.tree_size == 0:
            if checkpoint.root_hash != EMPTY_ROOT:
                raise _Failure(
                    f"checkpoint #{position} has size 0 but not the empty tree's root",
                    checkpoint=position,
                )
            progress.checkpoints += 1
    return [p for p in order if checkpoints[p].tree_size > 0]


def _verify_records(
    records: Iterable[bytes | LedgerRecord],
    checkpoints: Sequence[Checkpoint],
    order: list[int],
    progress: _Progress,
) -> None:
    tree = MerkleTree()
    pending = iter(order)
    next_position = next(pending, None)
    next_size = -1 if next_position is None else checkpoints[next_position].tree_size

    # Records after the last verified checkpoint, and their leaf hashes not
    # yet in the tree: digests are only checked where something fails.
    window: list[bytes] = []
    leaves: list[bytes] = []
    # Hot loop (a few microseconds a record): bound methods, a pre-fed hasher.
    keep_record = window.append
    keep_leaf = leaves.append
    new_leaf_hasher = sha256(b"\x00").copy
    size = 0
    for item in records:
        raw = item.to_bytes() if isinstance(item, LedgerRecord) else item
        if not raw.endswith(b'"seq":%d}' % size):
            progress.records = size
            _raise_first_fault(window, progress.verified_size)
            raise _Failure(_explain(raw, size), index=size)
        keep_record(raw)
        hasher = new_leaf_hasher()
        hasher.update(raw)
        keep_leaf(hasher.digest())
        size += 1
        if len(leaves) == _TREE_BATCH:
            tree.extend(leaves)
            leaves.clear()
        while size == next_size and next_position is not None:
            progress.records = size
            tree.extend(leaves)
            leaves.clear()
            _verify_checkpoint(tree, checkpoints[next_position], next_position, window, progress)
            window.clear()
            next_position = next(pending, None)
            next_size = -1 if next_position is None else checkpoints[next_position].tree_size
    progress.records = size

    _raise_first_fault(window, progress.verified_size)
    if next_position is not None:
        raise _Failure(
            f"checkpoint #{next_position} covers {next_size} records but only {size} were "
            f"supplied: records from index {size} on are missing",
            index=size,
            checkpoint=next_position,
        )
    if size and not progress.verified_size:
        raise _Failure(f"no signed checkpoint covers any of the {size} records")


def _raise_first_fault(window: list[bytes], start: int) -> None:
    """Raise for the first record of `window` (at positions start...) that fails its own check."""
    for offset, raw in enumerate(window):
        if not quick_check(raw, start + offset):
            raise _Failure(_explain(raw, start + offset), index=start + offset)


def _verify_checkpoint(
    tree: MerkleTree,
    checkpoint: Checkpoint,
    position: int,
    window: list[bytes],
    progress: _Progress,
) -> None:
    size = checkpoint.tree_size
    start = progress.verified_size
    if tree.root() != checkpoint.root_hash:
        _raise_first_fault(window, start)
        # Every record passed its own check, so the bytes were rewritten
        # together with their digests, or the checkpoint itself is false.
        raise _Failure(
            f"records {start}..{size - 1} do not hash to the root signed in checkpoint "
            f"#{position} (size {size}): rewritten records or a false checkpoint",
            index=start,
            checkpoint=position,
        )
    previous = progress.last_verified
    if previous is not None:
        proof = tree.consistency_proof(previous.tree_size, size)
        try:
            verify_consistency(
                previous.tree_size, size, proof, previous.root_hash, checkpoint.root_hash
            )
        except ProofError as exc:
            raise _Failure(
                f"checkpoint #{position} is not consistent with the one of size "
                f"{previous.tree_size}: {exc}",
                index=start,
                checkpoint=position,
            ) from exc
    progress.last_verified = checkpoint
    progress.verified_size = size
    progress.checkpoints += 1


def _explain(raw: bytes, position: int) -> str:
    """Why the record at `position` failed `quick_check`, in words."""
    try:
        record = LedgerRecord.from_bytes(raw)
    except RecordError as exc:
        return f"record {position}: {exc}"
    if record.seq != position:
        return (
            f"record {position} has seq {record.seq}: "
            "records are missing, duplicated or out of order"
        )
    return f"record {position}: seq or digest member is not where the canonical layout puts it"
