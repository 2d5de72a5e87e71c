"""Signed checkpoints of the audit ledger (Ed25519) and their keys (PEM).

A checkpoint commits to the ledger's first `tree_size` records. Modelled on
the transparency-log checkpoint note (C2SP tlog-checkpoint), the signed bytes
are four newline-terminated UTF-8 lines:

    vndx-audit-checkpoint/v1          format and purpose (domain separation)
    <tree size, decimal>
    <root hash, standard base64 with padding>
    <timestamp, Unix milliseconds, decimal>

e.g. b"vndx-audit-checkpoint/v1\\n1000\\n3q2+7w...=\\n1767225600000\\n".
The signature is raw Ed25519 (64 bytes) over exactly these bytes. The key id
is the first 4 bytes of SHA-256 of the raw 32-byte public key; it lets a
verifier pick the right key after a rotation. Timestamps are kept at
millisecond precision, which is what is signed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from streams.ledger.merkle import HASH_SIZE

CHECKPOINT_HEADER = "vndx-audit-checkpoint/v1"
KEY_ID_SIZE = 4
SIGNATURE_SIZE = 64

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


class CheckpointError(ValueError):
    """A checkpoint or key that is malformed or whose signature does not verify."""


def key_id(public_key: Ed25519PublicKey) -> bytes:
    """First 4 bytes of SHA-256 of the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256(raw).digest()[:KEY_ID_SIZE]


def unix_millis(moment: datetime) -> int:
    """Whole milliseconds since the Unix epoch (floor) of an aware datetime."""
    if moment.tzinfo is None:
        raise CheckpointError("checkpoint timestamp must be timezone-aware")
    return (moment - _EPOCH) // _MILLISECOND


def from_unix_millis(millis: int) -> datetime:
    """The UTC datetime of a Unix-milliseconds value."""
    return _EPOCH + millis * _MILLISECOND


def checkpoint_body(tree_size: int, root_hash: bytes, timestamp: datetime) -> bytes:
    """The exact bytes that are signed (see the module docstring)."""
    root = base64.b64encode(root_hash).decode("ascii")
    return f"{CHECKPOINT_HEADER}\n{tree_size}\n{root}\n{unix_millis(timestamp)}\n".encode()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement that the ledger's first `tree_size` records have `root_hash`."""

    tree_size: int
    root_hash: bytes
    timestamp: datetime
    signature: bytes
    key_id: bytes

    def __post_init__(self) -> None:
        if self.tree_size < 0:
            raise CheckpointError(f"tree size must not be negative, got {self.tree_size}")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"root hash has {len(self.root_hash)} bytes, want {HASH_SIZE}")
        if self.timestamp.tzinfo is None:
            raise CheckpointError("checkpoint timestamp must be timezone-aware")
        if len(self.signature) != SIGNATURE_SIZE:
            raise CheckpointError(
                f"signature has {len(self.signature)} bytes, want {SIGNATURE_SIZE}"
            )
        if len(self.key_id) != KEY_ID_SIZE:
            raise CheckpointError(f"key id has {len(self.key_id)} bytes, want {KEY_ID_SIZE}")

    def signed_body(self) -> bytes:
        """The bytes the signature covers."""
        return checkpoint_body(self.tree_size, self.root_hash, self.timestamp)

    def verify(self, public_key: Ed25519PublicKey) -> None:
        """Raise `CheckpointError` unless `public_key` signed this checkpoint."""
        expected = key_id(public_key)
        if self.key_id != expected:
            raise CheckpointError(
                f"checkpoint is signed by key {self.key_id.hex()}, not by {expected.hex()}"
            )
        try:
            public_key.verify(self.signature, self.signed_body())
        except InvalidSignature as exc:
            raise CheckpointError(
                f"invalid signature on the checkpoint of size {self.tree_size}"
            ) from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: hashes and signature in base64, key id in hex."""
        return {
            "tree_size": self.tree_size,
            "root_hash": base64.b64encode(self.root_hash).decode("ascii"),
            "timestamp_ms": unix_millis(self.timestamp),
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "key_id": self.key_id.hex(),
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Checkpoint:
        """Inverse of `to_dict`; raises `CheckpointError` on a malformed document."""
        try:
            tree_size = document["tree_size"]
            millis = document["timestamp_ms"]
            if not isinstance(tree_size, int) or not isinstance(millis, int):
                raise CheckpointError("tree_size and timestamp_ms must be integers")
            return cls(
                tree_size=tree_size,
                root_hash=base64.b64decode(document["root_hash"], validate=True),
                timestamp=from_unix_millis(millis),
                signature=base64.b64decode(document["signature"], validate=True),
                key_id=bytes.fromhex(document["key_id"]),
            )
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"malformed checkpoint: {exc!r}") from exc


def sign_checkpoint(
    private_key: Ed25519PrivateKey, tree_size: int, root_hash: bytes, timestamp: datetime
) -> Checkpoint:
    """Sign a checkpoint; the timestamp is truncated to the millisecond that is signed."""
    signed_time = from_unix_millis(unix_millis(timestamp))
    body = checkpoint_body(tree_size, root_hash, signed_time)
    return Checkpoint(
        tree_size=tree_size,
        root_hash=root_hash,
        timestamp=signed_time,
        signature=private_key.sign(body),
        key_id=key_id(private_key.public_key()),
    )


def generate_private_key() -> Ed25519PrivateKey:
    """A new Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def private_key_to_pem(private_key: Ed25519PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted (protect the file, e.g. mode 0600 or a secret store)."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_to_pem(public_key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_key_from_pem(pem: bytes) -> Ed25519PrivateKey:
    """Load an unencrypted PKCS#8 PEM Ed25519 private key."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"not a readable PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"not an Ed25519 private key: {type(key).__name__}")
    return key


def public_key_from_pem(pem: bytes) -> Ed25519PublicKey:
    """Load a PEM Ed25519 public key."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"not a readable PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(f"not an Ed25519 public key: {type(key).__name__}")
    return key


def save_private_key(path: Path, private_key: Ed25519PrivateKey) -> None:
    """Write the key as PEM, readable by the owner only."""
    path.touch(mode=0o600, exist_ok=False)
    path.write_bytes(private_key_to_pem(private_key))


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a PEM private key file."""
    return private_key_from_pem(path.read_bytes())


def save_public_key(path: Path, public_key: Ed25519PublicKey) -> None:
    """Write the public key as PEM."""
    path.write_bytes(public_key_to_pem(public_key))


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a PEM public key file."""
    return public_key_from_pem(path.read_bytes())
