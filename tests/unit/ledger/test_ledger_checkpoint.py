"""Checkpoints sign a documented body with Ed25519; keys travel as PEM."""

from __future__ import annotations

import base64
import dataclasses
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from streams.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    checkpoint_body,
    generate_private_key,
    key_id,
    load_private_key,
    load_public_key,
    private_key_from_pem,
    private_key_to_pem,
    public_key_from_pem,
    public_key_to_pem,
    save_private_key,
    save_public_key,
    sign_checkpoint,
)
from streams.ledger.merkle import leaf_hash

ROOT = leaf_hash(b"root")
WHEN = datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)


def test_signed_body_is_the_documented_text() -> None:
    root = base64.b64encode(ROOT).decode()
    assert checkpoint_body(1000, ROOT, WHEN) == (
        f"vndx-audit-checkpoint/v1\n1000\n{root}\n1767225600123\n".encode()
    )


def test_sign_and_verify(signing_key: Ed25519PrivateKey) -> None:
    checkpoint = sign_checkpoint(signing_key, 1000, ROOT, WHEN)
    checkpoint.verify(signing_key.public_key())
    assert checkpoint.timestamp == datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)
    assert checkpoint.key_id == key_id(signing_key.public_key())
    assert len(checkpoint.key_id) == 4


def test_the_same_instant_in_another_zone_signs_the_same_body(
    signing_key: Ed25519PrivateKey,
) -> None:
    hanoi = WHEN.astimezone(timezone(timedelta(hours=7)))
    assert checkpoint_body(5, ROOT, hanoi) == checkpoint_body(5, ROOT, WHEN)


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 1001},
        {"root_hash": leaf_hash(b"other")},
        {"timestamp": WHEN + timedelta(milliseconds=1)},
        {"signature": bytes(64)},
    ],
)
def test_any_change_breaks_the_signature(
    signing_key: Ed25519PrivateKey, change: dict[str, Any]
) -> None:
    checkpoint = dataclasses.replace(sign_checkpoint(signing_key, 1000, ROOT, WHEN), **change)
    with pytest.raises(CheckpointError, match="invalid signature"):
        checkpoint.verify(signing_key.public_key())


def test_another_key_is_named_by_its_id(signing_key: Ed25519PrivateKey) -> None:
    checkpoint = sign_checkpoint(signing_key, 1, ROOT, WHEN)
    other = generate_private_key().public_key()
    with pytest.raises(CheckpointError, match=f"not by {key_id(other).hex()}"):
        checkpoint.verify(other)


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": -1},
        {"root_hash": b"short"},
        {"timestamp": datetime(2026, 1, 1)},
        {"signature": b"x"},
        {"key_id": b"toolong"},
    ],
)
def test_malformed_checkpoints_are_refused(
    signing_key: Ed25519PrivateKey, change: dict[str, Any]
) -> None:
    checkpoint = sign_checkpoint(signing_key, 1, ROOT, WHEN)
    with pytest.raises(CheckpointError):
        dataclasses.replace(checkpoint, **change)


def test_dict_round_trip(signing_key: Ed25519PrivateKey) -> None:
    checkpoint = sign_checkpoint(signing_key, 77, ROOT, WHEN)
    document = checkpoint.to_dict()
    assert document["timestamp_ms"] == 1767225600123
    assert Checkpoint.from_dict(document) == checkpoint


@pytest.mark.parametrize(
    "change",
    [{"tree_size": "77"}, {"root_hash": "not base64!"}, {"key_id": "zz"}, {"signature": None}],
)
def test_malformed_dicts_are_refused(
    signing_key: Ed25519PrivateKey, change: dict[str, Any]
) -> None:
    document = sign_checkpoint(signing_key, 77, ROOT, WHEN).to_dict() | change
    with pytest.raises(CheckpointError):
        Checkpoint.from_dict(document)
    with pytest.raises(CheckpointError, match="malformed"):
        Checkpoint.from_dict({"tree_size": 1})


def test_pem_round_trip(tmp_path: Path) -> None:
    key = generate_private_key()
    assert private_key_to_pem(private_key_from_pem(private_key_to_pem(key))) == (
        private_key_to_pem(key)
    )
    public_pem = public_key_to_pem(key.public_key())
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert key_id(public_key_from_pem(public_pem)) == key_id(key.public_key())

    save_private_key(tmp_path / "ledger.key", key)
    save_public_key(tmp_path / "ledger.pub", key.public_key())
    assert stat.S_IMODE((tmp_path / "ledger.key").stat().st_mode) == 0o600
    loaded = load_private_key(tmp_path / "ledger.key")
    checkpoint = sign_checkpoint(loaded, 3, ROOT, WHEN)
    checkpoint.verify(load_public_key(tmp_path / "ledger.pub"))
    with pytest.raises(FileExistsError):
        save_private_key(tmp_path / "ledger.key", key)


def test_pem_of_another_kind_is_refused() -> None:
    x25519 = X25519PrivateKey.generate()
    pem = x25519.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with pytest.raises(CheckpointError, match="not an Ed25519 private key"):
        private_key_from_pem(pem)
    with pytest.raises(CheckpointError, match="not a readable PEM"):
        public_key_from_pem(b"garbage")
