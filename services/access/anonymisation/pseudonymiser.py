"""Replace an identifier column by keyed pseudonyms (HMAC-SHA256 under the grant key).

The HMAC is spelled out in DuckDB SQL (RFC 2104: H((K ^ opad) || H((K ^ ipad) || m)))
so that a batch is hashed by vectorised, multi-threaded C++ rather than one Python
call per value; the result equals `domain.pseudonyms.pseudonym_of`, which the
tests check.
"""

import hashlib

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from services.access.domain import PSEUDONYM_BYTES

_BLOCK = 64  # SHA-256 block size in bytes
_QUERY = (
    "SELECT substr(sha256($outer_key || unhex(sha256($inner_key || encode(value)))), 1, $hex_chars)"
    " AS pseudonym FROM batch"
)


class Pseudonymiser:
    """Pseudonyms of values' text under one grant key; nulls stay null."""

    def __init__(self, grant_key: bytes) -> None:
        key = hashlib.sha256(grant_key).digest() if len(grant_key) > _BLOCK else grant_key
        key = key.ljust(_BLOCK, b"\x00")
        self._parameters = {
            "inner_key": bytes(b ^ 0x36 for b in key),
            "outer_key": bytes(b ^ 0x5C for b in key),
            "hex_chars": 2 * PSEUDONYM_BYTES,
        }
        self._connection = duckdb.connect()
        self._connection.execute("SET enable_progress_bar = false")

    def __call__(self, column: pa.Array) -> pa.Array:
        batch = pa.table({"value": pc.cast(column, pa.string())})  # noqa: F841 - read by DuckDB
        self._connection.register("batch", batch)
        try:
            result = self._connection.sql(_QUERY, params=self._parameters).to_arrow_table()
        finally:
            self._connection.unregister("batch")
        return pc.cast(result.column("pseudonym"), pa.string()).combine_chunks()

    def close(self) -> None:
        self._connection.close()
