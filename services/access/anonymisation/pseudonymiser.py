"""Replace an identifier column by keyed pseudonyms (HMAC-SHA256 under the grant key).

The HMAC is spelled out in DuckDB SQL (RFC 2104: H((K ^ opad) || H((K ^ ipad) || m)))
so that a batch is hashed by vectorised, multi-threaded C++ rather than one Python
call per value; the result equals `domain.pseudonyms.pseudonym_of`, which the
tests check.

The pseudonyms do not depend on the generalisation search, so the engine computes
them for every row while it profiles and searches (`write_pseudonyms`, on another
core), into an Arrow IPC file in row order; the writing pass then memory-maps
that file and takes each batch's slice (`PseudonymColumns`).
"""

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pa_ds

from services.access.anonymisation import duck
from services.access.anonymisation.source import dense_type
from services.access.domain import PSEUDONYM_BYTES, AnonymisationFailed

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
        self._connection = duck.cursor()
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


def write_pseudonyms(
    dataset: pa_ds.Dataset,
    columns: Sequence[str],
    grant_key: bytes,
    path: Path,
    batch_rows: int,
    stop: threading.Event | None = None,
) -> int:
    """Pseudonymise `columns` of every row into an Arrow IPC file at `path`; return the rows.

    Returns early (with a partial file) when `stop` is set.
    """
    schema = pa.schema([pa.field(name, pa.string()) for name in columns])
    pseudonymiser = Pseudonymiser(grant_key)
    rows = 0
    try:
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            for batch in dataset.to_batches(columns=list(columns), batch_size=batch_rows):
                if stop is not None and stop.is_set():
                    break
                arrays = [pseudonymiser(_dense(batch.column(name))) for name in columns]
                writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
                rows += batch.num_rows
    finally:
        pseudonymiser.close()
    return rows


class PseudonymColumns:
    """The pseudonyms `write_pseudonyms` wrote, memory-mapped, sliced by row offset."""

    def __init__(self, path: Path) -> None:
        self._table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()

    @property
    def rows(self) -> int:
        return int(self._table.num_rows)

    def slice(self, column: str, offset: int, length: int) -> pa.Array:
        if offset + length > self._table.num_rows:
            raise AnonymisationFailed(
                "unreadable_source", "the source yielded more rows than it did when pseudonymised"
            )
        return self._table.column(column).slice(offset, length).combine_chunks()


def _dense(column: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        return pc.cast(column, dense_type(column.type))
    return column
