"""Independent check of a written extract with pycanon, before anything is released.

Only the quasi-identifier and sensitive columns are read back. Each column is
handed over as integer codes of its distinct values (a one-to-one recoding, so
classes are unchanged; pandas groups integers far faster than text), with null
as a code of its own (pandas' groupby would otherwise leave those rows out).

pycanon's `l_diversity` loops over classes in Python (about a millisecond each),
too slow for extracts with tens of thousands of classes. Distinct ℓ is the least
number of distinct sensitive values in a class, which is the k-anonymity of the
distinct (QI…, sensitive) rows; so ℓ is measured with pycanon's `k_anonymity` on
those rows, one sensitive column at a time (a unit test checks the identity
against pycanon's `l_diversity`).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


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
        {name: _as_codes(table.column(name)) for name in columns}, columns=columns
    ).reset_index(drop=True)
    qi = list(quasi_identifiers)
    k = int(anonymity.k_anonymity(frame, qi)) if qi else rows
    if not sensitive:
        return MeasuredPrivacy(rows=rows, k=k, l=None)
    diversity = min(_distinct_l(frame, qi, column) for column in sensitive)
    return MeasuredPrivacy(rows=rows, k=k, l=diversity)


def _distinct_l(frame: pd.DataFrame, qi: list[str], column: str) -> int:
    from pycanon import anonymity

    if not qi:
        return int(frame[column].nunique())
    distinct_rows = frame[[*qi, column]].drop_duplicates().reset_index(drop=True)
    return int(anonymity.k_anonymity(distinct_rows, qi))


def _as_codes(column: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    encoded = pc.dictionary_encode(column.combine_chunks(), null_encoding="encode")
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
