"""The ledger's Ed25519 signing key, from `settings.key_path("ledger", ...)`.

Outside production a missing pair is created (the embedded stack and tests);
in production a missing key is an error naming the path.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.auth import ensure_keypair
from services.common.settings import Settings
from streams.ledger.checkpoint import load_private_key


class MissingLedgerKey(RuntimeError):
    """Production mode without the ledger's private key."""


def ledger_signing_key(settings: Settings) -> Ed25519PrivateKey:
    private_path = settings.key_path("ledger", "private")
    if settings.env != "production":
        ensure_keypair(private_path, settings.key_path("ledger", "public"))
    elif not private_path.exists():
        raise MissingLedgerKey(
            f"ledger signing key not found at {private_path} (VNDX_LEDGER_PRIVATE_KEY_PATH)"
        )
    return load_private_key(private_path)
