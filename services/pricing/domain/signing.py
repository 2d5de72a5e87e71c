"""Ed25519 signatures over a quote's RFC 8785 canonical bytes.

The signed quote is self-contained JSON: the orders service validates it with
`SignedQuote.model_validate` and checks it with `verify_quote`, without calling pricing.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.pricing.domain.canonical import canonical_json
from services.pricing.domain.errors import QuoteSignatureInvalid
from services.pricing.domain.quote import Quote, SignedQuote


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    """Strict decoding: the text must be exactly the unpadded encoding of the bytes."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64url(data) != text:
        raise ValueError("not canonical unpadded base64url")
    return data


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """A stable id for a public key: 'ed25519:' + base64url of 16 bytes of its SHA-256."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "ed25519:" + _b64url(hashlib.sha256(raw).digest()[:16])


class QuoteSigner:
    """Signs quotes with one private key; computes the key id once."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.key_id = key_id_for(private_key.public_key())

    def sign_bytes(self, canonical: bytes) -> str:
        """The unpadded base64url Ed25519 signature of canonical bytes."""
        return _b64url(self._private_key.sign(canonical))

    def sign(self, quote: Quote) -> SignedQuote:
        """Sign every field of the quote plus the signer's key id."""
        payload = quote.model_dump(mode="json")
        payload["key_id"] = self.key_id
        signature = self.sign_bytes(canonical_json(payload))
        return SignedQuote.model_validate(
            {**dict(quote), "key_id": self.key_id, "signature": signature}
        )


def sign_quote(quote: Quote, private_key: Ed25519PrivateKey) -> SignedQuote:
    """Sign every field of the quote plus the signer's key id (see QuoteSigner to reuse)."""
    return QuoteSigner(private_key).sign(quote)


def verify_quote(signed: SignedQuote, public_key: Ed25519PublicKey) -> Quote:
    """Return the quote if `public_key` signed exactly these fields; else raise."""
    if signed.key_id != key_id_for(public_key):
        raise QuoteSignatureInvalid(f"quote was signed by key {signed.key_id!r}, not this key")
    try:
        signature = _b64url_decode(signed.signature)
        public_key.verify(signature, signed.canonical_bytes())
    except (InvalidSignature, ValueError) as error:
        raise QuoteSignatureInvalid("quote signature does not match its contents") from error
    return signed.unsigned()
