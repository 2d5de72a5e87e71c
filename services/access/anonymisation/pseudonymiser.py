"""Replace an identifier column by keyed pseudonyms (HMAC-SHA256 under the grant key)."""

import hmac

import pyarrow as pa
import pyarrow.compute as pc

from services.access.domain import PSEUDONYM_BYTES


def pseudonymise(column: pa.Array | pa.ChunkedArray, grant_key: bytes) -> pa.Array:
    """Pseudonyms of the values' text (see `domain.pseudonyms.pseudonym_of`); nulls stay null."""
    texts = pc.cast(column, pa.string()).to_pylist()
    digest = hmac.digest
    return pa.array(
        [
            None
            if text is None
            else digest(grant_key, text.encode(), "sha256")[:PSEUDONYM_BYTES].hex()
            for text in texts
        ],
        pa.string(),
    )
