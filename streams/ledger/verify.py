"""Verifiers for RFC 9162 inclusion (§2.1.3.2) and consistency (§2.1.4.2) proofs.

Both raise `ProofError` saying what is wrong; they return None on success.
Edge cases follow the transparency-dev/merkle reference verifier, whose test
vectors they pass: a consistency proof from size 0 is rejected as meaningless
(even 0 -> 0), and equal sizes need an empty proof and equal roots.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence

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
    _check_hashes(
        proof,
        "inclusion",
        _inclusion_path_length(index, tree_size),
        needs=f"leaf {index} of a tree of size {tree_size} needs",
    )
    result = leaf_hash
    for sibling, on_left in zip(proof, _sibling_sides(index, tree_size - 1), strict=True):
        result = node_hash(sibling, result) if on_left else node_hash(result, sibling)
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
    _check_hashes(
        proof,
        "consistency",
        _consistency_path_length(size1, size2),
        needs=f"sizes {size1} -> {size2} need",
    )

    path = list(proof)
    if _is_power_of_two(size1):
        path.insert(0, root1)
    old_root = new_root = path[0]
    sides = _sibling_sides(*_consistency_start(size1, size2))
    for hash_, on_left in zip(path[1:], sides, strict=True):
        if on_left:
            old_root = node_hash(hash_, old_root)
            new_root = node_hash(hash_, new_root)
        else:
            new_root = node_hash(new_root, hash_)
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


def _check_hashes(proof: Sequence[bytes], kind: str, expected: int, *, needs: str) -> None:
    """Every hash has HASH_SIZE bytes and there are `expected` of them ("... {needs} 4")."""
    for position, hash_ in enumerate(proof):
        if len(hash_) != HASH_SIZE:
            raise ProofError(f"proof hash {position} has {len(hash_)} bytes, want {HASH_SIZE}")
    if len(proof) != expected:
        raise ProofError(f"{kind} proof has {len(proof)} hashes; {needs} {expected}")


def _sibling_sides(fn: int, sn: int) -> Iterator[bool]:
    """The walk RFC 9162 shares between both verifiers, one step per proof hash.

    Yields whether each hash is a left sibling (the "fn is odd or fn == sn"
    case) and stops when sn reaches 0, so its length is the path's length.
    """
    while sn:
        on_left = bool(fn & 1) or fn == sn
        if on_left:
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        yield on_left
        fn >>= 1
        sn >>= 1


def _inclusion_path_length(index: int, tree_size: int) -> int:
    """How many hashes the RFC 9162 loop consumes before sn reaches 0."""
    return sum(1 for _ in _sibling_sides(index, tree_size - 1))


def _consistency_start(size1: int, size2: int) -> tuple[int, int]:
    """Steps 3-4 of RFC 9162 §2.1.4.2: fn, sn with the old tree's right edge aligned."""
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    return fn, sn


def _consistency_path_length(size1: int, size2: int) -> int:
    """Proof length for 0 < size1 < size2 (the first path hash is root1 if size1 is 2**k)."""
    steps = sum(1 for _ in _sibling_sides(*_consistency_start(size1, size2)))
    return steps if _is_power_of_two(size1) else steps + 1


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _b64(hash_: bytes) -> str:
    return base64.b64encode(hash_).decode("ascii")
