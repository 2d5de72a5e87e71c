"""Keyed pseudonyms: a secret per grant, so two grants' extracts cannot be joined."""

import hmac
from uuid import UUID

PSEUDONYM_BYTES = 16
"""HMAC-SHA256 output is truncated to 128 bits (RFC 2104 allows truncation to half)."""

_KEY_CONTEXT = b"vndx.access.pseudonym-key.v1\x00"


def derive_grant_key(master_key: bytes, grant_id: UUID | str) -> bytes:
    """HMAC(master_key, grant_id): the pseudonym key of one grant."""
    if len(master_key) < 16:
        raise ValueError("master key must be at least 16 bytes")
    canonical_id = str(UUID(str(grant_id)))
    return hmac.digest(master_key, _KEY_CONTEXT + canonical_id.encode("ascii"), "sha256")


def pseudonym_of(grant_key: bytes, value: str) -> str:
    """The pseudonym of one identifier value under a grant key (hex, 32 characters)."""
    return hmac.digest(grant_key, value.encode("utf-8"), "sha256")[:PSEUDONYM_BYTES].hex()
