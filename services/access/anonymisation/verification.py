"""Independent check of a written extract with pycanon, before anything is released.

Only the quasi-identifier and sensitive columns are read back. Nulls become one
sentinel value (pandas' groupby would otherwise leave those rows out of every
class) and all values are compared as text.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

_NULL = "\x00null"


@dataclass(frozen=True)
class MeasuredPrivacy:
    rows: int
    k: int
    l: int | None  # noqa: E741


def measure_extract(
    parquet_path: Path, quasi_identifiers: Sequence[str], sensitive: Sequence[str]
) -> MeasuredPrivacy:
    """k and distinct ℓ of the extract as pycanon measures them."""
    from pycanon import anonymity  # its pinned dependencies stay out of module import

    columns = list(dict.fromkeys([*quasi_identifiers, *sensitive]))
    table = pq.read_table(parquet_path, columns=columns)
    rows = table.num_rows
    if rows == 0:
        return MeasuredPrivacy(rows=0, k=0, l=0 if sensitive else None)
    frame = pd.DataFrame(
        {name: _as_text(table.column(name)) for name in columns}, columns=columns
    ).reset_index(drop=True)
    qi = list(quasi_identifiers)
    k = int(anonymity.k_anonymity(frame, qi)) if qi else rows
    if not sensitive:
        return MeasuredPrivacy(rows=rows, k=k, l=None)
    if qi:
        diversity = int(anonymity.l_diversity(frame, qi, list(sensitive)))
    else:
        diversity = min(int(frame[s].nunique()) for s in sensitive)
    return MeasuredPrivacy(rows=rows, k=k, l=diversity)


def _as_text(column: pa.ChunkedArray) -> pd.Series:
    text = pc.fill_null(pc.cast(column, pa.string()), _NULL)
    return text.to_pandas(types_mapper=None).astype(object)
