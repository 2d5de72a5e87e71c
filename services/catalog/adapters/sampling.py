"""Reads a uniform sample of a data file's columns, as strings, for the personal-data scan.

The file is streamed in record batches and a bottom-k reservoir keeps the ``max_rows`` rows
with the smallest random keys, so memory is bounded by about twice the sample plus one batch
whatever the file's size. A reservoir rather than the first rows: files are often sorted (by
date, by region, by id) and a column can be empty for its first rows and filled further on;
the scan is a publication gate, so it must see the whole file, and reading it through costs
about two seconds per million 12-column rows. The random keys come from a fixed seed, so a
file always gets the same sample and the same report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from services.catalog.domain.inspection import DIRECT_IDENTIFIER, ColumnSample

FileFormat = Literal["csv", "parquet"]

DEFAULT_MAX_ROWS = 100_000
_BATCH_ROWS = 65_536
_CSV_BLOCK_BYTES = 4 << 20


class SamplingError(ValueError):
    """The file cannot be sampled as asked (missing columns, unknown format)."""


def sample_columns(
    path: Path,
    fmt: FileFormat,
    columns: list[tuple[str, str]],
    max_rows: int = DEFAULT_MAX_ROWS,
    *,
    seed: int = 0,
    delimiter: str = ",",
) -> list[ColumnSample]:
    """One ``ColumnSample`` per ``(name, classification)``, in the order given.

    Values are the file's text (CSV cells read as strings, so ``0912…`` keeps its zero;
    Parquet values cast to string), ``None`` for nulls, in file order. ``direct_identifier``
    columns are not read (the scan skips them) and come back with no values.
    """
    if max_rows < 1:
        raise SamplingError(f"max_rows must be positive, got {max_rows}")
    wanted = [name for name, classification in columns if classification != DIRECT_IDENTIFIER]
    batches = _batches(path, fmt, wanted, delimiter)
    table = _reservoir(batches, wanted, max_rows, seed) if wanted else None
    return [
        ColumnSample(
            name=name,
            classification=classification,
            values=table.column(name).to_pylist() if table is not None and name in wanted else [],
        )
        for name, classification in columns
    ]


def _batches(
    path: Path, fmt: FileFormat, names: list[str], delimiter: str
) -> Iterator[pa.RecordBatch]:
    if fmt == "csv":
        return _csv_batches(path, names, delimiter)
    if fmt == "parquet":
        return _parquet_batches(path, names)
    raise SamplingError(f"unknown format {fmt!r}; expected 'csv' or 'parquet'")


def _csv_batches(path: Path, names: list[str], delimiter: str) -> Iterator[pa.RecordBatch]:
    read_options = pa_csv.ReadOptions(block_size=_CSV_BLOCK_BYTES)
    parse_options = pa_csv.ParseOptions(delimiter=delimiter)
    header = pa_csv.open_csv(path, read_options=read_options, parse_options=parse_options).schema
    _require(names, header.names, path)
    reader = pa_csv.open_csv(
        path,
        read_options=read_options,
        parse_options=parse_options,
        convert_options=pa_csv.ConvertOptions(
            include_columns=names,
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
        ),
    )
    yield from reader


def _parquet_batches(path: Path, names: list[str]) -> Iterator[pa.RecordBatch]:
    parquet = pq.ParquetFile(path)
    _require(names, parquet.schema_arrow.names, path)
    for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=names):
        yield pa.RecordBatch.from_arrays(
            [pc.cast(batch.column(name), pa.string()) for name in names], names=names
        )


def _require(names: list[str], present: list[str], path: Path) -> None:
    missing = [name for name in names if name not in present]
    if missing:
        raise SamplingError(f"{path.name} has no column(s) {missing}")


def _reservoir(
    batches: Iterator[pa.RecordBatch], names: list[str], max_rows: int, seed: int
) -> pa.Table:
    """The sample of ``max_rows`` rows, in file order."""
    reservoir = _Reservoir(max_rows, seed)
    for batch in batches:
        reservoir.offer(batch)
    return reservoir.in_file_order(names)


class _Reservoir:
    """Bottom-k sampling: keeps the ``size`` rows with the smallest random keys seen so far.

    Candidates pile up and are cut back to ``size`` only when they reach twice that, so the
    kept table is rebuilt a few times per file rather than once per batch.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.tables: list[pa.Table] = []
        self.keys: list[npt.NDArray[np.float64]] = []
        self.rows: list[npt.NDArray[np.int64]] = []
        self.held = 0
        self.rows_seen = 0
        self.cutoff = 1.0  # keys are below 1; a row keyed at or above this cannot be kept

    def offer(self, batch: pa.RecordBatch) -> None:
        keys = self.rng.random(batch.num_rows)
        rows = np.arange(self.rows_seen, self.rows_seen + batch.num_rows, dtype=np.int64)
        self.rows_seen += batch.num_rows
        entering = keys < self.cutoff
        if not entering.all():
            batch, keys, rows = batch.filter(pa.array(entering)), keys[entering], rows[entering]
        if batch.num_rows == 0:
            return
        self.tables.append(pa.Table.from_batches([batch]))
        self.keys.append(keys)
        self.rows.append(rows)
        self.held += batch.num_rows
        if self.held >= 2 * self.size:
            self._cut()

    def _cut(self) -> None:
        table = pa.concat_tables(self.tables)
        keys, rows = np.concatenate(self.keys), np.concatenate(self.rows)
        if len(keys) > self.size:
            best = np.argpartition(keys, self.size - 1)[: self.size]
            table, keys, rows = table.take(pa.array(best)), keys[best], rows[best]
            self.cutoff = float(keys.max())
        self.tables, self.keys, self.rows = [table], [keys], [rows]
        self.held = len(keys)

    def in_file_order(self, names: list[str]) -> pa.Table:
        if not self.tables:
            return pa.table({name: pa.array([], pa.string()) for name in names})
        self._cut()
        return self.tables[0].take(pa.array(np.argsort(self.rows[0], kind="stable")))
