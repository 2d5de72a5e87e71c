"""Generalisation ladders: each quasi-identifier's observed values, level by level.

A ladder is built over the distinct values a column actually holds (found in the
profiling pass), so every level is a lookup: value index -> label, label code and
cell loss. Level 0 is the original value, the top level is `*` for everything.
Values a hierarchy table does not list, and nulls, become `*` above level 0:
an unknown value is generalised as far as it can go rather than leaked.

Cell loss is Iyengar's loss metric on the observed domain: a value whose label
covers `m` of the column's `D` distinct values loses (m - 1) / (D - 1); `*` loses 1.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from services.access.anonymisation.hierarchy_tables import TOP
from services.access.domain import (
    AdminLevel,
    AnonymisationFailed,
    DateTruncation,
    GeneralisationHint,
    HierarchyTable,
    NumericBands,
)

Codes = npt.NDArray[np.int64]
Losses = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Ladder:
    """The generalisation levels of one quasi-identifier over its observed values."""

    column: str
    values: pa.Array
    labels: tuple[pa.Array, ...]
    codes: tuple[Codes, ...]
    cardinalities: tuple[int, ...]
    cell_loss: tuple[Losses, ...]

    @property
    def top(self) -> int:
        return len(self.labels) - 1


def build_ladder(
    column: str,
    values: pa.Array,
    hint: GeneralisationHint | None,
    table: pa.Table | None,
) -> Ladder:
    """The ladder of `column` over its distinct `values` (which may include one null)."""
    if isinstance(hint, NumericBands):
        middle = _numeric_bands(column, values, hint.widths)
    elif isinstance(hint, DateTruncation):
        middle = _date_truncation(column, values, hint.units)
    elif isinstance(hint, AdminLevel | HierarchyTable):
        if table is None:
            raise AnonymisationFailed("invalid_rules", f"no hierarchy table for {column!r}")
        middle = _table_levels(values, table)
    else:
        middle = []
    star = pa.array([TOP] * len(values), pa.string())
    levels: list[pa.Array] = [values, *middle, star]
    codes, cards, losses = [], [], []
    for level, labels in enumerate(levels):
        level_codes, cardinality = _encode(labels)
        codes.append(level_codes)
        cards.append(cardinality)
        losses.append(_cell_loss(level_codes, len(values), is_top=level == len(levels) - 1))
    return Ladder(column, values, tuple(levels), tuple(codes), tuple(cards), tuple(losses))


def _encode(labels: pa.Array) -> tuple[Codes, int]:
    distinct = pc.unique(labels)
    codes = pc.index_in(labels, value_set=distinct, skip_nulls=False)
    return np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.int64), len(distinct)


def _cell_loss(codes: Codes, domain_size: int, *, is_top: bool) -> Losses:
    if is_top:
        return np.ones(domain_size, dtype=np.float64)
    if domain_size <= 1:
        return np.zeros(domain_size, dtype=np.float64)
    group_sizes = np.bincount(codes)
    return np.asarray((group_sizes[codes] - 1) / (domain_size - 1), dtype=np.float64)


def _with_nulls_as_top(labels: Sequence[str | None], valid: npt.NDArray[np.bool_]) -> pa.Array:
    return pa.array(
        [lab if ok else TOP for lab, ok in zip(labels, valid, strict=True)], pa.string()
    )


def _numeric_bands(column: str, values: pa.Array, widths: tuple[float, ...]) -> list[pa.Array]:
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        raise AnonymisationFailed(
            "invalid_rules", f"numeric bands on {column!r}, which holds {values.type}"
        )
    integral = pa.types.is_integer(values.type)
    valid = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    numbers = np.asarray(
        pc.fill_null(pc.cast(values, pa.float64()), 0.0).to_numpy(zero_copy_only=False)
    )
    valid &= np.isfinite(numbers)
    levels = []
    for width in widths:
        lows = np.floor(numbers / width) * width
        label = _integer_band if integral and float(width).is_integer() else _real_band
        labels = [label(low, width) for low in lows.tolist()]
        levels.append(_with_nulls_as_top(labels, valid))
    return levels


def _integer_band(low: float, width: float) -> str:
    return f"{int(low)}-{int(low + width - 1)}"


def _real_band(low: float, width: float) -> str:
    return f"[{low:g}, {low + width:g})"


_DATE_FORMATS: dict[str, Callable[[pa.Array], pa.Array]] = {
    "day": lambda dates: pc.strftime(dates, format="%Y-%m-%d"),
    "month": lambda dates: pc.strftime(dates, format="%Y-%m"),
    "year": lambda dates: pc.cast(pc.year(dates), pa.string()),
    "decade": lambda dates: pc.binary_join_element_wise(
        pc.cast(pc.multiply(pc.divide(pc.year(dates), 10), 10), pa.string()), "s", ""
    ),
}


def _date_truncation(column: str, values: pa.Array, units: tuple[str, ...]) -> list[pa.Array]:
    dates = values
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        try:
            dates = pc.cast(values, pa.timestamp("s"))
        except pa.ArrowInvalid as error:
            raise AnonymisationFailed(
                "invalid_rules", f"date truncation on {column!r}: {error}"
            ) from error
    elif not pa.types.is_temporal(values.type):
        raise AnonymisationFailed(
            "invalid_rules", f"date truncation on {column!r}, which holds {values.type}"
        )
    if pa.types.is_date(dates.type):
        dates = pc.cast(dates, pa.timestamp("s"))
    return [pc.fill_null(_DATE_FORMATS[unit](dates), TOP) for unit in units]


def _table_levels(values: pa.Array, table: pa.Table) -> list[pa.Array]:
    rows = pc.index_in(pc.cast(values, pa.string()), value_set=table.column(0))
    middle = []
    for level in range(1, table.num_columns - 1):
        labels = pc.take(table.column(level), rows)
        middle.append(pc.fill_null(labels.combine_chunks(), TOP))
    return middle
