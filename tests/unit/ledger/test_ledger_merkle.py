"""The Merkle tree computes RFC 6962 roots and proofs that verify."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.ledger.merkle import EMPTY_ROOT, MerkleTree, leaf_hash, node_hash, root_hash
from streams.ledger.verify import ProofError, verify_consistency, verify_inclusion

# The leaves of RFC 6962's reference tree, used by transparency-dev's vectors.
RFC_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
RFC_ROOT_8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def reference_root(hashes: list[bytes]) -> bytes:
    """MTH straight from the RFC's recursive definition."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    split = 1
    while split * 2 < len(hashes):
        split *= 2
    return node_hash(reference_root(hashes[:split]), reference_root(hashes[split:]))


def leaves(count: int) -> list[bytes]:
    return [leaf_hash(f"record {i}".encode()) for i in range(count)]


def test_hashes_use_rfc6962_domain_separation() -> None:
    assert leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert EMPTY_ROOT.hex() == ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert node_hash(b"a" * 32, b"b" * 32) != node_hash(b"b" * 32, b"a" * 32)


def test_root_of_the_rfc_reference_tree() -> None:
    tree = MerkleTree(leaf_hash(leaf) for leaf in RFC_LEAVES)
    assert tree.root().hex() == RFC_ROOT_8
    assert root_hash([leaf_hash(leaf) for leaf in RFC_LEAVES]).hex() == RFC_ROOT_8


def test_roots_match_the_recursive_definition_for_every_size() -> None:
    hashes = leaves(130)
    tree = MerkleTree(hashes)
    for size in range(131):
        expected = reference_root(hashes[:size])
        assert root_hash(hashes[:size]) == expected, size
        assert tree.root(size) == expected, size


def test_appending_keeps_earlier_roots() -> None:
    hashes = leaves(40)
    tree = MerkleTree()
    roots = []
    for hash_ in hashes:
        tree.append(hash_)
        roots.append(tree.root())
    assert [tree.root(size) for size in range(1, 41)] == roots
    assert len(tree) == tree.size == 40
    assert tree.leaf(17) == hashes[17]


def test_proofs_equal_the_published_vectors(vectors_dir: Path) -> None:
    tree = MerkleTree(leaf_hash(leaf) for leaf in RFC_LEAVES)
    checked = 0
    for path in sorted(vectors_dir.glob("inclusion/[0-9]*/happy-path.json")):
        vector = json.loads(path.read_text())
        proof = [base64.b64decode(h) for h in vector["proof"] or []]
        size, index = vector["treeSize"], vector["leafIdx"]
        assert tree.inclusion_proof(index, size) == proof, path
        assert tree.root(size) == base64.b64decode(vector["root"]), path
        checked += 1
    for path in sorted(vectors_dir.glob("consistency/[0-9]*/happy-path.json")):
        vector = json.loads(path.read_text())
        proof = [base64.b64decode(h) for h in vector["proof"] or []]
        assert tree.consistency_proof(vector["size1"], vector["size2"]) == proof, path
        checked += 1
    assert checked == 10


def test_every_inclusion_and_consistency_proof_verifies_up_to_48_leaves() -> None:
    hashes = leaves(48)
    tree = MerkleTree(hashes)
    for size in range(1, 49):
        root = tree.root(size)
        for index in range(size):
            verify_inclusion(hashes[index], index, size, tree.inclusion_proof(index, size), root)
        for old in range(1, size + 1):
            proof = tree.consistency_proof(old, size)
            verify_consistency(old, size, proof, tree.root(old), root)


def flip_bit(hash_: bytes, bit: int) -> bytes:
    changed = bytearray(hash_)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@given(st.data())
def test_a_changed_bit_in_any_proof_hash_is_rejected(data: st.DataObject) -> None:
    size = data.draw(st.integers(2, 300))
    hashes = leaves(size)
    tree = MerkleTree(hashes)
    index = data.draw(st.integers(0, size - 1))
    inclusion = tree.inclusion_proof(index, size)
    position = data.draw(st.integers(0, len(inclusion) - 1))
    inclusion[position] = flip_bit(inclusion[position], data.draw(st.integers(0, 255)))
    with pytest.raises(ProofError):
        verify_inclusion(hashes[index], index, size, inclusion, tree.root(size))

    old = data.draw(st.integers(1, size - 1))
    consistency = tree.consistency_proof(old, size)
    position = data.draw(st.integers(0, len(consistency) - 1))
    consistency[position] = flip_bit(consistency[position], data.draw(st.integers(0, 255)))
    with pytest.raises(ProofError):
        verify_consistency(old, size, consistency, tree.root(old), tree.root(size))


def test_storage_is_32_bytes_per_node_so_a_million_leaves_take_64_megabytes() -> None:
    tree = MerkleTree()
    hash_ = leaf_hash(b"x")
    for _ in range(1 << 14):
        tree.append(hash_)
    assert tree.nbytes == 32 * (2 * (1 << 14) - 1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.root(11), "tree size 11"),
        (lambda t: t.inclusion_proof(10, 10), "leaf index 10"),
        (lambda t: t.inclusion_proof(0, 11), "tree size 11"),
        (lambda t: t.consistency_proof(6, 5), "old size 6"),
        (lambda t: t.leaf(-1), "leaf index -1"),
        (lambda t: t.append(b"short"), "32 bytes"),
    ],
)
def test_out_of_range_requests_are_refused(
    call: Callable[[MerkleTree], object], message: str
) -> None:
    tree = MerkleTree(leaves(10))
    with pytest.raises(ValueError, match=message):
        call(tree)


def test_trivial_consistency_proofs_are_empty() -> None:
    tree = MerkleTree(leaves(5))
    assert tree.consistency_proof(0, 5) == []
    assert tree.consistency_proof(5, 5) == []
    assert tree.inclusion_proof(0, 1) == []


def test_batches_and_single_appends_build_the_same_tree() -> None:
    hashes = leaves(1000)
    tree = MerkleTree()
    position = 0
    for step in (1, 3, 64, 1, 255, 2, 600, 74):
        if step == 1:
            tree.append(hashes[position])
        else:
            tree.extend(hashes[position : position + step])
        position += step
    assert position == 1000
    assert tree.root() == root_hash(hashes)
    assert [tree.root(size) for size in (1, 4, 68, 69, 324, 326, 926)] == [
        reference_root(hashes[:size]) for size in (1, 4, 68, 69, 324, 326, 926)
    ]
    with pytest.raises(ValueError, match="32 bytes"):
        tree.extend([hashes[0], b"short"])
    assert tree.size == 1000
