"""The proof verifiers accept good proofs and reject each kind of bad input clearly."""

from __future__ import annotations

import pytest

from streams.ledger.merkle import MerkleTree, leaf_hash
from streams.ledger.verify import ProofError, verify_consistency, verify_inclusion

HASHES = [leaf_hash(bytes([i])) for i in range(11)]
TREE = MerkleTree(HASHES)


def test_good_proofs_verify() -> None:
    verify_inclusion(HASHES[6], 6, 11, TREE.inclusion_proof(6, 11), TREE.root(11))
    verify_consistency(3, 11, TREE.consistency_proof(3, 11), TREE.root(3), TREE.root(11))
    verify_consistency(4, 11, TREE.consistency_proof(4, 11), TREE.root(4), TREE.root(11))
    verify_consistency(7, 7, [], TREE.root(7), TREE.root(7))


@pytest.mark.parametrize(
    ("leaf", "index", "size", "proof", "root", "message"),
    [
        (HASHES[3], 11, 11, [], TREE.root(11), "leaf index 11 is outside a tree of size 11"),
        (HASHES[0], 0, 0, [], TREE.root(0), "outside a tree of size 0"),
        (HASHES[3], -1, 11, [], TREE.root(11), "must not be negative"),
        (b"", 3, 11, TREE.inclusion_proof(3, 11), TREE.root(11), "leaf hash has 0 bytes"),
        (HASHES[3], 3, 11, TREE.inclusion_proof(3, 11)[:-1], TREE.root(11), "has 3 hashes"),
        (HASHES[3], 3, 11, [*TREE.inclusion_proof(3, 11), HASHES[0]], TREE.root(11), "needs 4"),
        (HASHES[3], 3, 11, [*TREE.inclusion_proof(3, 11)[:3], b""], TREE.root(11), "0 bytes"),
        (HASHES[4], 3, 11, TREE.inclusion_proof(3, 11), TREE.root(11), "gives root"),
        (HASHES[3], 3, 11, TREE.inclusion_proof(3, 11), TREE.root(10), "gives root"),
        (HASHES[3], 3, 4, TREE.inclusion_proof(3, 11), TREE.root(11), "of size 4 needs 2"),
        (HASHES[3], 3, 11, TREE.inclusion_proof(3, 11)[::-1], TREE.root(11), "gives root"),
    ],
)
def test_bad_inclusion_proofs_are_rejected(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes, message: str
) -> None:
    with pytest.raises(ProofError, match=message):
        verify_inclusion(leaf, index, size, proof, root)


@pytest.mark.parametrize(
    ("size1", "size2", "proof", "root1", "root2", "message"),
    [
        (5, 4, [], TREE.root(5), TREE.root(4), "old size 5 is larger than new size 4"),
        (0, 5, [], TREE.root(0), TREE.root(5), "empty tree"),
        (0, 0, [], TREE.root(0), TREE.root(0), "empty tree"),
        (5, 5, [HASHES[0]], TREE.root(5), TREE.root(5), "proof is not empty"),
        (5, 5, [], TREE.root(5), TREE.root(6), "roots differ"),
        (5, 9, [], TREE.root(5), TREE.root(9), "empty consistency proof"),
        (
            5,
            9,
            TREE.consistency_proof(5, 9)[1:],
            TREE.root(5),
            TREE.root(9),
            "has 4 hashes; sizes 5 -> 9 need 5",
        ),
        (5, 9, TREE.consistency_proof(5, 9), TREE.root(5), TREE.root(10), "new root"),
        (5, 9, TREE.consistency_proof(5, 9), TREE.root(6), TREE.root(9), "old root"),
        (4, 9, TREE.consistency_proof(4, 9), TREE.root(3), TREE.root(9), "new root"),
        (-1, 9, [], TREE.root(3), TREE.root(9), "must not be negative"),
    ],
)
def test_bad_consistency_proofs_are_rejected(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes, message: str
) -> None:
    with pytest.raises(ProofError, match=message):
        verify_consistency(size1, size2, proof, root1, root2)


def test_proof_error_is_a_value_error_with_the_reason() -> None:
    with pytest.raises(ValueError, match="larger than"):
        verify_consistency(2, 1, [], b"", b"")
