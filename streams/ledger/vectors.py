"""Run the verifiers over transparency-dev/merkle proof test vectors.

The vector folder holds JSON files (at any depth). An inclusion vector has
`leafIdx`, `treeSize`, `root`, `leafHash`, `proof`; a consistency vector has
`size1`, `size2`, `root1`, `root2`, `proof`. Both carry `desc` and `wantErr`;
hashes are standard base64 and `proof` may be null (no hashes). A vector is
ok when the verifier raises exactly when `wantErr` is true. This backs
`vndx audit check-vectors DIR`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from streams.ledger.verify import ProofError, verify_consistency, verify_inclusion

VectorKind = Literal["inclusion", "consistency", "unreadable"]


@dataclass(frozen=True, slots=True)
class VectorResult:
    """Outcome of one vector file.

    `error` is the verifier's message (None when the proof verified);
    `want_error` is None only for an unreadable file, which is never ok.
    """

    path: Path
    kind: VectorKind
    description: str
    want_error: bool | None
    error: str | None
    ok: bool


class _MalformedVectorError(ValueError):
    pass


def check_vectors(directory: Path) -> list[VectorResult]:
    """Verify every `*.json` vector under `directory`, in path order."""
    if not directory.is_dir():
        raise FileNotFoundError(f"vector directory not found: {directory}")
    return [check_vector(path) for path in sorted(directory.rglob("*.json"))]


def check_vector(path: Path) -> VectorResult:
    """Verify one vector file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise _MalformedVectorError("top level is not an object")
        kind, run = _parse(document)
        want_error = document.get("wantErr")
        if not isinstance(want_error, bool):
            raise _MalformedVectorError("wantErr is missing or not a boolean")
    except (OSError, ValueError) as exc:
        return VectorResult(path, "unreadable", "", None, f"unreadable vector: {exc}", ok=False)

    try:
        run()
        error = None
    except ProofError as exc:
        error = str(exc)
    description = str(document.get("desc", ""))
    return VectorResult(
        path, kind, description, want_error, error, ok=want_error == (error is not None)
    )


def _parse(document: dict[str, Any]) -> tuple[VectorKind, Callable[[], None]]:
    if "leafIdx" in document:
        leaf = _hash(document, "leafHash")
        index = _int(document, "leafIdx")
        size = _int(document, "treeSize")
        proof = _proof(document)
        root = _hash(document, "root")
        return "inclusion", lambda: verify_inclusion(leaf, index, size, proof, root)
    if "size1" in document:
        size1 = _int(document, "size1")
        size2 = _int(document, "size2")
        proof = _proof(document)
        root1 = _hash(document, "root1")
        root2 = _hash(document, "root2")
        return "consistency", lambda: verify_consistency(size1, size2, proof, root1, root2)
    raise _MalformedVectorError("neither an inclusion (leafIdx) nor a consistency (size1) vector")


def _int(document: dict[str, Any], field: str) -> int:
    value = document.get(field)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _MalformedVectorError(f"{field} is missing or not an integer")
    return value


def _hash(document: dict[str, Any], field: str) -> bytes:
    value = document.get(field)
    if not isinstance(value, str):
        raise _MalformedVectorError(f"{field} is missing or not a base64 string")
    return _decode(value, field)


def _proof(document: dict[str, Any]) -> list[bytes]:
    value = document.get("proof")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _MalformedVectorError("proof is not a list of base64 strings")
    return [_decode(item, f"proof[{position}]") for position, item in enumerate(value)]


def _decode(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise _MalformedVectorError(f"{field} is not valid base64: {exc}") from exc
