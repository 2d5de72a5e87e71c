"""Streaming profile of an uploaded data file: header check, row count, nulls, validity.

Reads the file in blocks with pyarrow (CSV or Parquet), so memory stays flat
whatever the file's size. Every refusal names the line or column at fault.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from services.catalog.domain.errors import InvalidUpload
from services.catalog.domain.model import ColumnStats, Schema

FileFormat = Literal["csv", "parquet"]
PARQUET_MAGIC = b"PAR1"
CSV_DELIMITERS = ",;\t|"
BLOCK_SIZE = 8 * 1024 * 1024

_VALID_PATTERNS: dict[str, str] = {
    "integer": r"^\s*[+-]?\d+\s*$",
    "number": r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$",
    "boolean": r"(?i)^\s*(true|false|0|1|yes|no|có|không)\s*$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
    "datetime": r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$",
}


@dataclass(frozen=True)
class FileProfile:
    format: FileFormat
    row_count: int
    columns: list[ColumnStats]
    delimiter: str = ","

    @property
    def completeness(self) -> float:
        if not self.columns:
            return 1.0
        return round(1 - sum(c.null_ratio for c in self.columns) / len(self.columns), 4)

    @property
    def validity(self) -> float:
        if not self.columns:
            return 1.0
        return round(sum(c.valid_ratio for c in self.columns) / len(self.columns), 4)


def detect_format(path: Path) -> FileFormat:
    with path.open("rb") as handle:
        head = handle.read(4)
    if not head:
        raise InvalidUpload("the file is empty", field="file")
    return "parquet" if head == PARQUET_MAGIC else "csv"


def profile_file(path: Path, schema: Schema) -> FileProfile:
    """Check ``path`` against ``schema`` and measure it; raise ``InvalidUpload``."""
    fmt = detect_format(path)
    return _profile_parquet(path, schema) if fmt == "parquet" else _profile_csv(path, schema)


def _check_header(names: list[str], schema: Schema, where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidUpload(f"{where}: column {name!r} appears twice", field=name, line=1)
        seen.add(name)
    expected = schema.names()
    unexpected = [n for n in names if n not in expected]
    if unexpected:
        raise InvalidUpload(
            f"{where}: column {unexpected[0]!r} is not in the listing's schema",
            field=unexpected[0],
            line=1,
        )
    missing = [n for n in expected if n not in seen]
    if missing:
        raise InvalidUpload(
            f"{where}: column {missing[0]!r} of the schema is missing", field=missing[0], line=1
        )


def _read_first_line(path: Path) -> str:
    with path.open("rb") as handle:
        raw = handle.readline(1_000_000)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise InvalidUpload(
            "line 1 is not UTF-8 text; upload UTF-8 CSV or Parquet", line=1
        ) from exc


def csv_delimiter(path: Path) -> str:
    """The delimiter of a CSV file, guessed from its header line."""
    return _sniff_delimiter(_read_first_line(path))


def _sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _first_non_utf8_line(path: Path) -> int | None:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _first_ragged_line(path: Path, delimiter: str, expected: int) -> int | None:
    """Find the first record whose field count is wrong (only on the error path)."""
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        for row in reader:
            if row and len(row) != expected:
                return reader.line_num
    return None


def _profile_csv(path: Path, schema: Schema) -> FileProfile:
    header_line = _read_first_line(path)
    if not header_line.strip():
        raise InvalidUpload("line 1: the header is empty", line=1)
    delimiter = _sniff_delimiter(header_line)
    names = next(csv.reader(io.StringIO(header_line), delimiter=delimiter))
    names = [n.strip() for n in names]
    _check_header(names, schema, "line 1")

    bad_rows: list[tuple[int | None, int, int]] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        bad_rows.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    types = {column.name: column.type for column in schema.columns}
    counter = _ColumnCounter(names, types)
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE, use_threads=True),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=False, invalid_row_handler=on_invalid_row
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            if bad_rows:
                break
            counter.add(batch)
    except pa.ArrowInvalid as exc:
        line = _first_non_utf8_line(path)
        if line is not None:
            raise InvalidUpload(f"line {line} is not UTF-8 text", line=line) from exc
        raise InvalidUpload(f"the CSV cannot be read: {exc}") from exc
    if bad_rows:
        number, expected, actual = bad_rows[0]
        line = number + 1 if number is not None else _first_ragged_line(path, delimiter, expected)
        where = f"line {line}" if line else "a row"
        raise InvalidUpload(f"{where} has {actual} fields, expected {expected}", line=line)
    if counter.rows == 0:
        raise InvalidUpload("the file has a header but no data rows", line=2)
    return FileProfile("csv", counter.rows, counter.stats(schema), delimiter)


def _profile_parquet(path: Path, schema: Schema) -> FileProfile:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidUpload(f"not a valid Parquet file: {exc}", field="file") from exc
    names = [field.name for field in parquet.schema_arrow]
    _check_header(names, schema, "Parquet schema")
    types = {column.name: column.type for column in schema.columns}
    counter = _ColumnCounter(names, types)
    try:
        for batch in parquet.iter_batches(batch_size=65_536):
            counter.add(batch)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidUpload(f"the Parquet file is damaged: {exc}", field="file") from exc
    if counter.rows == 0:
        raise InvalidUpload("the Parquet file has no rows", field="file")
    return FileProfile("parquet", counter.rows, counter.stats(schema))


_CAST_TARGETS: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "date": pa.date32(),
}


def _count_valid(filled: pa.Array, declared: str) -> int:
    """How many non-empty text values fit the declared type.

    Casting the whole batch is the fast path (most batches are clean); only a
    batch that fails it is checked value by value with a regular expression.
    """
    pattern = _VALID_PATTERNS.get(declared)
    if pattern is None or len(filled) == 0:
        return len(filled)
    target = _CAST_TARGETS.get(declared)
    if target is not None:
        try:
            pc.cast(filled, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            return len(filled)
    matched = pc.match_substring_regex(filled, pattern)
    return int(pc.sum(pc.cast(matched, pa.int64())).as_py() or 0)


class _ColumnCounter:
    """Accumulates nulls and type-valid values per column over record batches."""

    def __init__(self, names: list[str], types: Mapping[str, str]) -> None:
        self.rows = 0
        self._names = names
        self._types = types
        self._nulls = dict.fromkeys(names, 0)
        self._valid = dict.fromkeys(names, 0)

    def add(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        for name in self._names:
            array = batch.column(name)
            if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
                filled = pc.filter(array, pc.not_equal(array, ""))
                nulls = batch.num_rows - len(filled)
                valid = _count_valid(filled, self._types[name])
            else:
                nulls = array.null_count
                valid = batch.num_rows - nulls
            self._nulls[name] += nulls
            self._valid[name] += valid

    def stats(self, schema: Schema) -> list[ColumnStats]:
        out: list[ColumnStats] = []
        for name in schema.names():
            nulls = self._nulls[name]
            non_null = self.rows - nulls
            out.append(
                ColumnStats(
                    name=name,
                    null_ratio=round(nulls / self.rows, 4) if self.rows else 0.0,
                    valid_ratio=round(self._valid[name] / non_null, 4) if non_null else 1.0,
                )
            )
        return out
