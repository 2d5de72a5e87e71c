"""Independent check of a written extract, before anything is released.

The extract's quasi-identifier and sensitive columns are read back from the
written Parquet file and grouped by their released labels, with code that shares
nothing with the search (which works on integer codes of the raw profile):

- Arrow's hash aggregation always measures k (the smallest class) and distinct ℓ
  (per sensitive column, the fewest distinct values in a class, null counting as
  a value of its own). It is linear in the rows, about a tenth of a second per
  million rows of six quasi-identifiers.
- pycanon measures the same figures as well when the extract has at most
  `PYCANON_MAX_ROWS` rows, and the two must agree. Its cost grows with the number
  of classes (pandas builds an index per class: about 3 s for a million rows in
  70,000 classes), so a large extract is measured by Arrow alone; a unit test holds
  the two to the same figures on Adult.

Columns are handed to pycanon as integer codes of their distinct values (a
one-to-one recoding, so classes are unchanged; pandas groups integers far faster
than text), with null as a code of its own (pandas' groupby would otherwise leave
those rows out). pycanon's `l_diversity` loops over classes in Python, so distinct
ℓ is measured with its `k_anonymity` on the distinct (QI…, sensitive) rows, one
sensitive column at a time: the least number of distinct sensitive values in a
class is the k-anonymity of those rows (a unit test checks the identity).
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

from services.access.domain import AnonymisationFailed

PYCANON_MAX_ROWS = 250_000
_ROWS = "__vndx_rows"


@dataclass(frozen=True)
class MeasuredPrivacy:
    rows: int
    k: int
    l: int | None  # noqa: E741
    checkers: tuple[str, ...] = ()


def measure_extract(
    parquet_path: Path,
    quasi_identifiers: Sequence[str],
    sensitive: Sequence[str],
    *,
    pycanon_max_rows: int = PYCANON_MAX_ROWS,
) -> MeasuredPrivacy:
    """k and distinct ℓ of the written extract; raises if the two checkers disagree."""
    columns = list(dict.fromkeys([*quasi_identifiers, *sensitive]))
    if not columns:
        # Nothing to group by: every row is its own release; a table of no columns would
        # count no rows, so the count comes from the file's metadata.
        rows = pq.ParquetFile(parquet_path).metadata.num_rows
        return MeasuredPrivacy(rows=rows, k=rows, l=None, checkers=("parquet",))
    # Text columns come back dictionary-encoded and are grouped by their indices.
    read = pq.read_table(parquet_path, columns=columns, read_dictionary=columns)
    table = _as_integer_codes(read.unify_dictionaries())
    if table.num_rows == 0:
        return MeasuredPrivacy(rows=0, k=0, l=0 if sensitive else None)
    by_arrow = measure_with_arrow(table, quasi_identifiers, sensitive)
    if table.num_rows > pycanon_max_rows:
        return by_arrow
    by_pycanon = measure_with_pycanon(table, quasi_identifiers, sensitive)
    if (by_pycanon.k, by_pycanon.l) != (by_arrow.k, by_arrow.l):
        raise AnonymisationFailed(
            "verification_failed",
            f"the checkers disagree: pycanon k={by_pycanon.k} ℓ={by_pycanon.l}, "
            f"Arrow k={by_arrow.k} ℓ={by_arrow.l}",
        )
    return MeasuredPrivacy(
        rows=table.num_rows, k=by_arrow.k, l=by_arrow.l, checkers=("arrow", "pycanon")
    )


def measure_with_arrow(
    table: pa.Table, quasi_identifiers: Sequence[str], sensitive: Sequence[str]
) -> MeasuredPrivacy:
    """k and distinct ℓ by one hash aggregation over the quasi-identifiers."""
    rows = table.num_rows
    distinct_all = pc.CountOptions(mode="all")
    if not quasi_identifiers:
        diversity = [pc.count_distinct(table.column(s), mode="all").as_py() for s in sensitive]
        return MeasuredPrivacy(rows, rows, min(diversity) if sensitive else None, ("arrow",))
    classes = table.group_by(list(quasi_identifiers), use_threads=True).aggregate(
        [([], "count_all"), *((s, "count_distinct", distinct_all) for s in sensitive)]
    )
    k = int(pc.min(classes.column("count_all")).as_py())
    diversity = [int(pc.min(classes.column(f"{s}_count_distinct")).as_py()) for s in sensitive]
    return MeasuredPrivacy(rows, k, min(diversity) if sensitive else None, ("arrow",))


def measure_with_pycanon(
    table: pa.Table, quasi_identifiers: Sequence[str], sensitive: Sequence[str]
) -> MeasuredPrivacy:
    """k and distinct ℓ as pycanon measures them."""
    from pycanon import anonymity  # its pinned dependencies stay out of module import

    columns = list(dict.fromkeys([*quasi_identifiers, *sensitive]))
    rows = table.num_rows
    frame = pd.DataFrame(
        {name: _as_codes(table.column(name)) for name in columns}, columns=columns
    ).reset_index(drop=True)
    qi = list(quasi_identifiers)
    k = int(anonymity.k_anonymity(frame, qi)) if qi else rows
    if not sensitive:
        return MeasuredPrivacy(rows=rows, k=k, l=None, checkers=("pycanon",))
    diversity = min(_distinct_l(frame, qi, column) for column in sensitive)
    return MeasuredPrivacy(rows=rows, k=k, l=diversity, checkers=("pycanon",))


def _distinct_l(frame: pd.DataFrame, qi: list[str], column: str) -> int:
    from pycanon import anonymity

    if not qi:
        return int(frame[column].nunique())
    distinct_rows = frame[[*qi, column]].drop_duplicates().reset_index(drop=True)
    return int(anonymity.k_anonymity(distinct_rows, qi))


def _as_integer_codes(table: pa.Table) -> pa.Table:
    """Each dictionary column replaced by its indices (one dictionary per column)."""
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = pa.chunked_array(
                [chunk.indices for chunk in column.chunks], column.type.index_type
            )
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _as_codes(column: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    encoded = pc.dictionary_encode(column.combine_chunks(), null_encoding="encode")
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
