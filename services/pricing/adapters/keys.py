"""The quote signing key: loaded from the key path, created on first use outside production."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from services.common.auth import ensure_keypair
from services.common.settings import Settings
from services.pricing.domain import QuoteSigner


class QuoteKey:
    """The signer of quotes and the PEM of its public key (derived from the private key)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self.signer = QuoteSigner(private_key)
        self.key_id = self.signer.key_id
        self.public_pem = (
            private_key.public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )


def load_quote_key(settings: Settings) -> QuoteKey:
    """Read ``settings.key_path("quote", "private")``; create the pair if missing (not in production)."""
    private_path = settings.key_path("quote", "private")
    if settings.env != "production":
        ensure_keypair(private_path, settings.key_path("quote", "public"))
    key = load_pem_private_key(private_path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{private_path} is not an Ed25519 private key")
    return QuoteKey(key)
