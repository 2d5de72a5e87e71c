"""RFC 6962 / RFC 9162 Merkle tree: hashing, an append-only tree, and proofs.

Leaves are hashed as SHA-256(0x00 || data) and interior nodes as
SHA-256(0x01 || left || right); the empty tree's root is SHA-256(""). The tree
of n leaves splits at k, the largest power of two below n (RFC 9162 §2.1.1).

`MerkleTree` stores every *complete* subtree: level L holds the hashes of the
aligned blocks of 2**L leaves, packed 32 bytes apiece in one `bytearray`, so a
million leaves take about 64 MB (two million nodes) and no Python object per
node. Any RFC subtree [start, end) is a left-to-right run of such blocks, so
roots of earlier sizes and proofs cost O(log n) hashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Hash of one leaf's data: SHA-256(0x00 || data)."""
    return sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right)."""
    return sha256(_NODE_PREFIX + left + right).digest()


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """Root of the tree whose leaf hashes are `leaves` (already leaf-hashed)."""
    level = list(leaves)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        # An odd node out is carried up unchanged: this is the RFC's split at
        # the largest power of two, computed bottom-up.
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162 §2.1.1: the largest power of two strictly less than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


_NODE_HASHER = sha256(_NODE_PREFIX)


def _pair_hashes(children: bytearray, first: int, stop: int) -> bytes:
    """Node hashes of the child pairs first..stop-1 of one level, concatenated."""
    parents = []
    pair_size = 2 * HASH_SIZE
    with memoryview(children) as view:
        for offset in range(first * pair_size, stop * pair_size, pair_size):
            hasher = _NODE_HASHER.copy()
            hasher.update(view[offset : offset + pair_size])
            parents.append(hasher.digest())
    return b"".join(parents)


class MerkleTree:
    """An append-only RFC 6962 tree over leaf hashes, with proofs for any earlier size."""

    __slots__ = ("_levels", "_size")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        self.extend(leaf_hashes)

    def __len__(self) -> int:
        return self._size

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def nbytes(self) -> int:
        """Bytes of hashes stored (32 per node; about 64 MB for a million leaves)."""
        return sum(len(level) for level in self._levels)

    def append(self, leaf: bytes) -> int:
        """Append one leaf hash; return its index. Amortised O(1) node hashes."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf)}")
        levels = self._levels
        index = self._size
        levels[0] += leaf
        self._size = index + 1
        level = 0
        # Each trailing 1 bit of the index completes a block one level up.
        while index & 1:
            hasher = _NODE_HASHER.copy()
            hasher.update(levels[level][-2 * HASH_SIZE :])
            parent = hasher.digest()
            level += 1
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += parent
            index >>= 1
        return self._size - 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append many leaf hashes in order, hashing the new nodes level by level."""
        batch = leaf_hashes if isinstance(leaf_hashes, list) else list(leaf_hashes)
        if any(len(leaf) != HASH_SIZE for leaf in batch):
            raise ValueError(f"every leaf hash must be {HASH_SIZE} bytes")
        if not batch:
            return
        levels = self._levels
        levels[0] += b"".join(batch)
        self._size += len(batch)
        level = 0
        while True:
            children = levels[level]
            complete_pairs = len(children) // (2 * HASH_SIZE)
            if level + 1 == len(levels):
                if complete_pairs == 0:
                    return
                levels.append(bytearray())
            parents = levels[level + 1]
            known = len(parents) // HASH_SIZE
            if known == complete_pairs:
                return  # nothing new at this level, so nothing above changes
            parents += _pair_hashes(children, known, complete_pairs)
            level += 1

    def leaf(self, index: int) -> bytes:
        """The leaf hash at `index`."""
        self._check_index(index, self._size)
        return self._node(0, index)

    def root(self, tree_size: int | None = None) -> bytes:
        """Root of the tree made of the first `tree_size` leaves (default: all)."""
        size = self._size if tree_size is None else tree_size
        self._check_size(size)
        if size == 0:
            return EMPTY_ROOT
        return self._range_hash(0, size)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """Audit path for leaf `index` in the tree of `tree_size` leaves (RFC 9162 §2.1.3.1).

        Ordered from the leaf's sibling up to the root's child.
        """
        size = self._size if tree_size is None else tree_size
        self._check_size(size)
        self._check_index(index, size)
        siblings: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            split = start + _largest_power_of_two_below(end - start)
            if index < split:
                siblings.append(self._range_hash(split, end))
                end = split
            else:
                siblings.append(self._range_hash(start, split))
                start = split
        siblings.reverse()
        return siblings

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Proof that the tree of `old_size` leaves is a prefix of the one of `new_size`.

        RFC 9162 §2.1.4.1. Empty when `old_size` is 0 or equals `new_size`:
        those cases need no proof (and verifiers reject a proof from size 0).
        """
        size = self._size if new_size is None else new_size
        self._check_size(size)
        if not 0 <= old_size <= size:
            raise ValueError(f"old size {old_size} must be between 0 and new size {size}")
        if old_size in (0, size):
            return []
        # Walk down from the root; collected outermost first, reversed at the end.
        proof: list[bytes] = []
        start, end = 0, size
        whole_old_tree = True
        while old_size - start != end - start:
            split = start + _largest_power_of_two_below(end - start)
            if old_size <= split:
                proof.append(self._range_hash(split, end))
                end = split
            else:
                proof.append(self._range_hash(start, split))
                start = split
                whole_old_tree = False
        # The old tree's root is known to the verifier only when the descent
        # stayed on the left edge; otherwise the subtree it ended on is needed.
        if not whole_old_tree:
            proof.append(self._range_hash(start, end))
        proof.reverse()
        return proof

    def _node(self, level: int, index: int) -> bytes:
        offset = index * HASH_SIZE
        return bytes(self._levels[level][offset : offset + HASH_SIZE])

    def _range_hash(self, start: int, end: int) -> bytes:
        """Hash of the RFC subtree over leaves [start, end).

        `start` is a multiple of a power of two >= end - start, as for every
        subtree of the RFC tree, so the range is a run of stored blocks of
        decreasing size.
        """
        blocks: list[bytes] = []
        while start < end:
            width = 1 << ((end - start).bit_length() - 1)
            level = width.bit_length() - 1
            blocks.append(self._node(level, start >> level))
            start += width
        result = blocks.pop()
        while blocks:
            result = node_hash(blocks.pop(), result)
        return result

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self._size:
            raise ValueError(f"tree size {size} is outside 0..{self._size}")

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of size {size}")
