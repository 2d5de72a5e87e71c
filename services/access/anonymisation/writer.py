"""Pass 2: stream the source in record batches and write the extract incrementally.

Each batch is reduced to the rows whose equivalence class survived the search
(rows of a class the profile never saw are dropped: fail closed), direct
identifiers are dropped or replaced by their pseudonyms (computed beforehand,
see `pseudonymiser`), quasi-identifiers replaced by their labels at the chosen
levels, and the result appended to a Parquet and a CSV file in one pass: worker
threads transform batches, and each finished batch is written to both files.
"""

import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.dataset as pa_ds
import pyarrow.parquet as pq

from services.access.anonymisation.class_keys import ClassKeyEncoder, mixed_radix_bound
from services.access.anonymisation.ladders import Ladder
from services.access.anonymisation.pseudonymiser import PseudonymColumns
from services.access.anonymisation.source import dense_type
from services.access.domain import AnonymisationFailed

BATCH_ROWS = 128 * 1024
_WORKERS = min(4, os.cpu_count() or 1)
_MAX_TABLE_KEYS = 1 << 24  # a 16 MiB lookup table beats a binary search per row


@dataclass(frozen=True)
class OutputColumn:
    """One column of the extract and how it is derived from the source column."""

    name: str
    action: Literal["keep", "pseudonymise", "generalise"]
    ladder: Ladder | None = None
    level: int = 0


@dataclass(frozen=True)
class ClassFilter:
    """Which generalised quasi-identifier combinations are released."""

    ladders: tuple[Ladder, ...]
    levels: tuple[int, ...]
    encoder: ClassKeyEncoder
    released_keys: npt.NDArray[np.int64]

    def released(
        self, value_indices: Sequence[npt.NDArray[np.int64]], rows: int
    ) -> npt.NDArray[np.bool_]:
        """Rows to release, given each QI's index into its ladder's values (-1 if unseen)."""
        seen = np.ones(rows, dtype=np.bool_)
        codes = []
        for ladder, level, indices in zip(self.ladders, self.levels, value_indices, strict=True):
            seen &= indices >= 0
            codes.append(ladder.codes[level][np.maximum(indices, 0)])
        keys, known = self.encoder.encode(codes, rows)
        if len(self.released_keys) == 0:
            return np.zeros(rows, dtype=np.bool_)
        table = self.released_table
        if table is not None:
            released: npt.NDArray[np.bool_] = seen & known & table[keys]
            return released
        rank = np.minimum(np.searchsorted(self.released_keys, keys), len(self.released_keys) - 1)
        released = seen & known & (self.released_keys[rank] == keys)
        return released

    @cached_property
    def released_table(self) -> npt.NDArray[np.bool_] | None:
        """Released-or-not by key, when keys are small enough to index a table directly."""
        if self.encoder.compactions:
            return None
        bound = mixed_radix_bound(self.encoder.cardinalities)
        if bound > _MAX_TABLE_KEYS:
            return None
        table = np.zeros(bound, dtype=np.bool_)
        table[self.released_keys] = True
        return table


@dataclass(frozen=True)
class WrittenExtract:
    rows_in: int
    rows_out: int


def output_schema(source: pa.Schema, columns: Sequence[OutputColumn]) -> pa.Schema:
    fields = []
    for column in columns:
        generalised = column.action == "generalise" and column.level > 0
        if column.action == "pseudonymise" or generalised:
            fields.append(pa.field(column.name, pa.string()))
        else:
            fields.append(pa.field(column.name, dense_type(source.field(column.name).type)))
    return pa.schema(fields)


def write_extract(
    dataset: pa_ds.Dataset,
    columns: Sequence[OutputColumn],
    class_filter: ClassFilter,
    pseudonyms: PseudonymColumns | None,
    parquet_path: Path,
    csv_path: Path,
    on_rows: Callable[[int], None] | None = None,
) -> WrittenExtract:
    """Stream `dataset` into the extract files; returns the row counts.

    `pseudonyms` holds, in row order, the pseudonym of every row of every column
    whose action is ``pseudonymise``.
    """
    schema = output_schema(dataset.schema, columns)
    qi_names = [ladder.column for ladder in class_filter.ladders]
    copied = [c.name for c in columns if c.action != "pseudonymise"]
    needed = list(dict.fromkeys([*qi_names, *copied]))
    if any(c.action == "pseudonymise" for c in columns) and pseudonyms is None:
        raise ValueError("pseudonymised columns need their pseudonyms")
    rows_in = rows_out = 0

    def transform(batch: pa.RecordBatch, offset: int) -> tuple[int, pa.RecordBatch]:
        out = _transform(batch, offset, columns, class_filter, pseudonyms, schema)
        return batch.num_rows, out

    # Batches are transformed on worker threads (Arrow and DuckDB release the GIL)
    # and written in their original order; a bounded queue caps memory.
    pending: deque[Future[tuple[int, pa.RecordBatch]]] = deque()
    try:
        with (
            ThreadPoolExecutor(max_workers=_WORKERS) as pool,
            pq.ParquetWriter(
                parquet_path,
                schema,
                # Pseudonyms are all distinct: a dictionary would only be tried and dropped.
                use_dictionary=[c.name for c in columns if c.action != "pseudonymise"],
            ) as parquet_writer,
            pa_csv.CSVWriter(csv_path, schema) as csv_writer,
        ):

            def write_oldest() -> None:
                nonlocal rows_in, rows_out
                rows, out = pending.popleft().result()
                if out.num_rows:
                    parquet_writer.write_batch(out)
                    csv_writer.write_batch(out)
                rows_in += rows
                rows_out += out.num_rows
                if on_rows:
                    on_rows(rows_in)

            offset = 0
            for batch in dataset.to_batches(columns=needed, batch_size=BATCH_ROWS):
                pending.append(pool.submit(transform, batch, offset))
                offset += batch.num_rows
                if len(pending) > 2 * _WORKERS:
                    write_oldest()
            while pending:
                write_oldest()
    finally:
        for future in pending:
            future.cancel()
    if pseudonyms is not None and pseudonyms.rows != rows_in:
        raise AnonymisationFailed(
            "unreadable_source", f"{rows_in} rows read, {pseudonyms.rows} pseudonymised"
        )
    return WrittenExtract(rows_in, rows_out)


def _dense(column: pa.Array) -> pa.Array:
    if isinstance(column, pa.DictionaryArray):
        return column.dictionary_decode()
    return column


def _transform(
    batch: pa.RecordBatch,
    offset: int,
    columns: Sequence[OutputColumn],
    class_filter: ClassFilter,
    pseudonyms: PseudonymColumns | None,
    schema: pa.Schema,
) -> pa.RecordBatch:
    value_index: dict[str, pa.Array] = {}
    for ladder in class_filter.ladders:
        source = _dense(batch.column(ladder.column))
        if source.type != ladder.values.type:
            source = pc.cast(source, ladder.values.type)
        value_index[ladder.column] = pc.index_in(source, value_set=ladder.values, skip_nulls=False)
    indices = [
        np.asarray(
            pc.fill_null(value_index[lad.column], -1).to_numpy(zero_copy_only=False), np.int64
        )
        for lad in class_filter.ladders
    ]
    released = pa.array(class_filter.released(indices, batch.num_rows))
    kept = batch.filter(released)
    arrays = []
    for column in columns:
        if column.action == "pseudonymise":
            assert pseudonyms is not None
            pseudonym = pseudonyms.slice(column.name, offset, batch.num_rows)
            arrays.append(pseudonym.filter(released))
            continue
        source = _dense(kept.column(column.name))
        if column.action == "generalise" and column.ladder is not None and column.level > 0:
            positions = pc.filter(value_index[column.name], released)
            arrays.append(pc.take(column.ladder.labels[column.level], positions))
        else:
            arrays.append(source)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
