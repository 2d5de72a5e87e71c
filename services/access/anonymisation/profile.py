"""Pass 1: equivalence-class counts of the raw quasi-identifier and sensitive columns.

DuckDB groups the whole file (spilling to disk when it must) by the raw QI and
sensitive values; the lattice search then runs on these counts alone, which are
far smaller than the data. Each column's distinct values become an index space
(`codes`) shared with the streaming pass.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pa_ds

from services.access.anonymisation import duck
from services.access.anonymisation.source import dense_type

Codes = npt.NDArray[np.int64]
_COUNT = "__vndx_rows"


@dataclass(frozen=True)
class Profile:
    """Counts per distinct (QI…, SA…) combination, columns coded by distinct value."""

    row_count: int
    counts: Codes
    values: dict[str, pa.Array]
    codes: dict[str, Codes]

    @property
    def groups(self) -> int:
        return len(self.counts)


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def profile_source(
    dataset: pa_ds.Dataset,
    columns: Sequence[str],
    spill_dir: Path,
) -> Profile:
    """Group the dataset by `columns` and count rows per combination.

    DuckDB spills to the shared instance's temporary directory (see `duck`); `spill_dir`
    is kept for callers that place their work files next to it.
    """
    connection = duck.cursor()
    try:
        connection.register("source", dataset)
        selected = ", ".join(quote_identifier(c) for c in columns)
        if columns:
            query = f"SELECT {selected}, count(*)::BIGINT AS {_COUNT} FROM source GROUP BY ALL"
        else:
            query = f"SELECT count(*)::BIGINT AS {_COUNT} FROM source"
        grouped = connection.sql(query).to_arrow_table()
    finally:
        connection.close()
    counts = np.asarray(grouped.column(_COUNT).to_numpy(), dtype=np.int64)
    if not columns and counts.size and counts[0] == 0:
        counts = counts[:0]
    values: dict[str, pa.Array] = {}
    codes: dict[str, Codes] = {}
    for name in columns:
        column = grouped.column(name).combine_chunks()
        wanted = dense_type(dataset.schema.field(name).type)
        if column.type != wanted:
            column = pc.cast(column, wanted)
        # One hash pass gives both the distinct values (null among them) and the codes.
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        values[name] = encoded.dictionary
        codes[name] = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return Profile(int(counts.sum()), counts, values, codes)
