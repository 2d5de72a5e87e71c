"""`check_vectors` gives the expected result for every transparency-dev vector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.ledger.vectors import check_vector, check_vectors


def test_every_shared_vector_gets_its_expected_result(vectors_dir: Path) -> None:
    results = check_vectors(vectors_dir)
    assert len(results) == len(list(vectors_dir.rglob("*.json")))
    failures = [
        f"{r.path}: want error {r.want_error}, got {r.error!r}" for r in results if not r.ok
    ]
    assert failures == []
    kinds = {r.kind for r in results}
    assert kinds == {"inclusion", "consistency"}
    assert any(r.want_error for r in results)
    assert any(r.want_error is False for r in results)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("inclusion/1/happy-path.json", None),
        ("inclusion/single-entry/matching-root-and-leaf.json", None),
        ("consistency/3/happy-path.json", None),
        ("consistency/additional/sizes-are-equal-one-and-proof-is-empty.json", None),
        ("inclusion/2/leafIdx-plus-@1.json", "gives root"),
        ("inclusion/3/treeSize-div-@2.json", "outside a tree of size 1"),
        ("inclusion/1/removed-component.json", "has 2 hashes"),
        ("inclusion/additional/2/empty-root.json", "outside a tree of size 0"),
        ("inclusion/single-entry/empty-leaf.json", "leaf hash has 0 bytes"),
        ("consistency/3/trailing-garbage.json", "0 bytes"),
        ("consistency/2/swapped-roots.json", "root"),
        ("consistency/additional/size1-is-greater-than-size2.json", "larger than"),
        ("consistency/additional/sizes-are-equal-zero-and-proof-is-empty.json", "empty tree"),
        ("consistency/additional/sizes-are-equal-one-but-roots-are-not.json", "roots differ"),
    ],
)
def test_known_vectors_by_name(vectors_dir: Path, name: str, message: str | None) -> None:
    result = check_vector(vectors_dir / name)
    assert result.ok
    if message is None:
        assert result.error is None
        assert result.want_error is False
    else:
        assert result.want_error is True
        assert result.error is not None
        assert message in result.error


def test_a_vector_with_the_wrong_expectation_is_not_ok(vectors_dir: Path, tmp_path: Path) -> None:
    vector = json.loads((vectors_dir / "inclusion/4/happy-path.json").read_text())
    vector["wantErr"] = True
    path = tmp_path / "lying.json"
    path.write_text(json.dumps(vector))
    result = check_vector(path)
    assert result.error is None
    assert not result.ok


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "unreadable vector"),
        ('{"leafIdx": 0, "treeSize": 1, "root": "!!", "leafHash": "", "wantErr": true}', "root"),
        ('{"size1": 1, "size2": 1, "root1": "", "root2": "", "proof": []}', "wantErr"),
        ('{"desc": "neither kind", "wantErr": false}', "neither"),
    ],
)
def test_malformed_files_are_reported_not_ok(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = check_vector(path)
    assert result.kind == "unreadable"
    assert not result.ok
    assert result.error is not None
    assert message in result.error


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        check_vectors(tmp_path / "absent")
