"""Ed25519-signed JSON documents: check one with the signer's public key alone.

A signed document is a JSON object carrying ``key_id`` and ``signature``; the signature
(unpadded base64url) covers the RFC 8785 canonical bytes of every other field plus
``key_id``. This is how pricing signs quotes, so orders can verify them without pricing.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from services.common.canonical import canonical_json


class SignatureInvalid(ValueError):
    """A document whose signature, key id or encoding does not check out."""

    def __init__(self, message: str, *, field: str = "signature") -> None:
        super().__init__(message)
        self.field = field


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    """Strict: the text must be exactly the unpadded encoding of the bytes."""
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise SignatureInvalid("signature is not base64url") from exc
    if b64url(data) != text:
        raise SignatureInvalid("signature is not canonical unpadded base64url")
    return data


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """'ed25519:' + base64url of the first 16 bytes of the raw key's SHA-256."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "ed25519:" + b64url(hashlib.sha256(raw).digest()[:16])


def load_ed25519_public_key(public_key_pem: bytes) -> Ed25519PublicKey:
    key = load_pem_public_key(public_key_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the verification key is not an Ed25519 public key")
    return key


class SignedJsonVerifier:
    """Verifies documents against one public key (parsed and identified once)."""

    def __init__(self, public_key_pem: bytes) -> None:
        self._key = load_ed25519_public_key(public_key_pem)
        self.key_id = key_id_for(self._key)

    def verify(self, document: dict[str, Any]) -> None:
        """Return if this key signed exactly these fields; raise ``SignatureInvalid``."""
        signature = document.get("signature")
        if not isinstance(signature, str) or not signature:
            raise SignatureInvalid("the document has no signature")
        key_id = document.get("key_id")
        if key_id != self.key_id:
            raise SignatureInvalid(
                f"signed by key {key_id!r}, not the expected {self.key_id!r}", field="key_id"
            )
        signed = {name: value for name, value in document.items() if name != "signature"}
        try:
            payload = canonical_json(signed)
        except (TypeError, ValueError) as exc:
            raise SignatureInvalid(f"the document is not canonical JSON data: {exc}") from exc
        try:
            self._key.verify(_b64url_decode(signature), payload)
        except InvalidSignature as exc:
            raise SignatureInvalid("signature does not match the document's contents") from exc


def verify_signed_document(document: dict[str, Any], public_key_pem: bytes) -> None:
    """Raise ``SignatureInvalid`` unless ``public_key_pem``'s key signed ``document``."""
    SignedJsonVerifier(public_key_pem).verify(document)
