"""Replace an identifier column by keyed pseudonyms (HMAC-SHA256 under the grant key).

The HMAC is spelled out in DuckDB SQL (RFC 2104: H((K ^ opad) || H((K ^ ipad) || m)))
so that a batch is hashed by vectorised, multi-threaded C++ rather than one Python
call per value; the result equals `domain.pseudonyms.pseudonym_of`, which the
tests check.
"""

import hashlib
import threading

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
    """Pseudonyms of values' text under one grant key; nulls stay null.

    Safe to call from several threads: each thread gets its own DuckDB cursor.
    """

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
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()

    def __call__(self, column: pa.Array) -> pa.Array:
        cursor = self._cursor()
        batch = pa.table({"value": pc.cast(column, pa.string())})
        cursor.register("batch", batch)
        try:
            result = cursor.sql(_QUERY, params=self._parameters).to_arrow_table()
        finally:
            cursor.unregister("batch")
        return pc.cast(result.column("pseudonym"), pa.string()).combine_chunks()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._connection.cursor()
            self._local.cursor = cursor
            with self._lock:
                self._cursors.append(cursor)
        return cursor

    def close(self) -> None:
        for cursor in self._cursors:
            cursor.close()
        self._connection.close()
