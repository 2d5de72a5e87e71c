"""Verifiers for RFC 9162 inclusion (§2.1.3.2) and consistency (§2.1.4.2) proofs.

Both raise `ProofError` saying what is wrong; they return None on success.
Edge cases follow the transparency-dev/merkle reference verifier, whose test
vectors they pass: a consistency proof from size 0 is rejected as meaningless
(even 0 -> 0), and equal sizes need an empty proof and equal roots.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from streams.ledger.merkle import HASH_SIZE, node_hash


class ProofError(ValueError):
    """A Merkle proof, or the values it is checked against, does not verify."""


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf_hash` is leaf `index` of the tree of `tree_size` leaves with `root`."""
    if index < 0 or tree_size < 0:
        raise ProofError(f"index ({index}) and tree size ({tree_size}) must not be negative")
    if index >= tree_size:
        raise ProofError(f"leaf index {index} is outside a tree of size {tree_size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"leaf hash has {len(leaf_hash)} bytes, want {HASH_SIZE}")
    _check_elements(proof)
    expected = _inclusion_path_length(index, tree_size)
    if len(proof) != expected:
        raise ProofError(
            f"inclusion proof has {len(proof)} hashes; leaf {index} of a tree of "
            f"size {tree_size} needs {expected}"
        )
    fn, sn = index, tree_size - 1
    result = leaf_hash
    for sibling in proof:
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if result != root:
        raise ProofError(
            f"inclusion proof gives root {_b64(result)}, expected {_b64(root)} "
            f"(leaf {index}, tree size {tree_size})"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of `size1` leaves with `root1` is a prefix of `size2`'s with `root2`."""
    if size1 < 0 or size2 < 0:
        raise ProofError(f"tree sizes ({size1}, {size2}) must not be negative")
    if size1 > size2:
        raise ProofError(f"old size {size1} is larger than new size {size2}")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree (size 0) is meaningless")
    if size1 == size2:
        if proof:
            raise ProofError(f"sizes are equal ({size1}) but the proof is not empty")
        if root1 != root2:
            raise ProofError(
                f"sizes are equal ({size1}) but roots differ: {_b64(root1)} != {_b64(root2)}"
            )
        return
    if not proof:
        raise ProofError(f"empty consistency proof between different sizes {size1} and {size2}")
    _check_elements(proof)
    expected = _consistency_path_length(size1, size2)
    if len(proof) != expected:
        raise ProofError(
            f"consistency proof has {len(proof)} hashes; sizes {size1} -> {size2} need {expected}"
        )

    path = list(proof)
    if _is_power_of_two(size1):
        path.insert(0, root1)
    fn, sn = _consistency_start(size1, size2)
    old_root = new_root = path[0]
    for hash_ in path[1:]:
        if fn & 1 or fn == sn:
            old_root = node_hash(hash_, old_root)
            new_root = node_hash(hash_, new_root)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            new_root = node_hash(new_root, hash_)
        fn >>= 1
        sn >>= 1
    if old_root != root1:
        raise ProofError(
            f"consistency proof gives old root {_b64(old_root)}, expected {_b64(root1)} "
            f"(size {size1})"
        )
    if new_root != root2:
        raise ProofError(
            f"consistency proof gives new root {_b64(new_root)}, expected {_b64(root2)} "
            f"(size {size2})"
        )


def _check_elements(proof: Sequence[bytes]) -> None:
    for position, hash_ in enumerate(proof):
        if len(hash_) != HASH_SIZE:
            raise ProofError(f"proof hash {position} has {len(hash_)} bytes, want {HASH_SIZE}")


def _inclusion_path_length(index: int, tree_size: int) -> int:
    """How many hashes the RFC 9162 loop consumes before sn reaches 0."""
    fn, sn = index, tree_size - 1
    length = 0
    while sn:
        if not fn & 1 and fn == sn:
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        fn >>= 1
        sn >>= 1
        length += 1
    return length


def _consistency_start(size1: int, size2: int) -> tuple[int, int]:
    """Steps 3-4 of RFC 9162 §2.1.4.2: fn, sn with the old tree's right edge aligned."""
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    return fn, sn


def _consistency_path_length(size1: int, size2: int) -> int:
    """Proof length for 0 < size1 < size2 (the first path hash is root1 if size1 is 2**k)."""
    fn, sn = _consistency_start(size1, size2)
    steps = 0
    while sn:
        if not fn & 1 and fn == sn:
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        fn >>= 1
        sn >>= 1
        steps += 1
    return steps if _is_power_of_two(size1) else steps + 1


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _b64(hash_: bytes) -> str:
    return base64.b64encode(hash_).decode("ascii")
