"""Open a listing version's raw file (CSV or Parquet) as a streamable Arrow dataset."""

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as pa_ds

from services.access.domain import AnonymisationFailed, ColumnRule, ColumnType

SourceFormat = Literal["csv", "parquet"]

_ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
}
_CSV_BLOCK_BYTES = 4 << 20
_DELIMITERS = (",", ";", "\t", "|")


def sniff_delimiter(path: Path) -> str:
    """The delimiter that occurs most often in the header line."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    return max(_DELIMITERS, key=header.count)


def open_source(
    path: Path,
    source_format: SourceFormat,
    rules: Sequence[ColumnRule],
    csv_delimiter: str | None = None,
) -> pa_ds.Dataset:
    """A dataset over the file; CSV columns are parsed with the types the rules declare.

    Undeclared CSV columns are inferred, except direct identifiers, read as text.
    """
    try:
        if source_format == "parquet":
            return pa_ds.dataset(path, format="parquet")
        column_types = {r.name: _ARROW_TYPES[r.type] for r in rules if r.type is not None}
        # An identifier such as 079012345678 must keep its leading zero.
        column_types |= {
            r.name: pa.string()
            for r in rules
            if r.type is None and r.classification == "direct_identifier"
        }
        csv_format = pa_ds.CsvFileFormat(
            parse_options=pa_csv.ParseOptions(delimiter=csv_delimiter or sniff_delimiter(path)),
            convert_options=pa_csv.ConvertOptions(column_types=column_types),
            read_options=pa_csv.ReadOptions(block_size=_CSV_BLOCK_BYTES),
        )
        return pa_ds.dataset(path, format=csv_format)
    except (OSError, pa.ArrowException) as error:
        raise AnonymisationFailed("unreadable_source", f"{path.name}: {error}") from error


def dense_type(data_type: pa.DataType) -> pa.DataType:
    """The value type of a dictionary-encoded column, else the type itself."""
    return data_type.value_type if pa.types.is_dictionary(data_type) else data_type
