"""Load generalisation tables: ARX hierarchies and administrative mapping tables.

A table is normalised to string columns `level_0 .. level_h`, one row per original
value, whose last level is `*` (appended when the table stops short of it).
"""

from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from services.access.domain import AnonymisationFailed

TOP = "*"
HierarchySource: TypeAlias = Path | pa.Table | Sequence[Sequence[str]]


def load_table(source: HierarchySource, *, has_header: bool, name: str) -> pa.Table:
    """Read a table from a file (`;`, `,` or tab separated), an Arrow table or rows."""
    if isinstance(source, pa.Table):
        columns = [pc.cast(source.column(i), pa.string()) for i in range(source.num_columns)]
        return _normalise(columns, name)
    rows = _read_rows(source, has_header) if isinstance(source, Path) else [list(r) for r in source]
    if not rows:
        raise AnonymisationFailed("invalid_rules", f"hierarchy {name!r} is empty")
    width = len(rows[0])
    ragged = [i for i, row in enumerate(rows) if len(row) != width]
    if ragged:
        raise AnonymisationFailed(
            "invalid_rules", f"hierarchy {name!r}: rows {ragged[:5]} differ in length"
        )
    columns = [pa.array([row[i] for row in rows], pa.string()) for i in range(width)]
    return _normalise(columns, name)


def _read_rows(path: Path, has_header: bool) -> list[list[str]]:
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as error:
        raise AnonymisationFailed("invalid_rules", f"hierarchy {path.name}: {error}") from error
    if has_header:
        lines = lines[1:]
    delimiter = max((";", ",", "\t"), key=lambda d: lines[0].count(d) if lines else 0)
    return [[cell.strip() for cell in line.split(delimiter)] for line in lines]


def _normalise(columns: list[pa.Array | pa.ChunkedArray], name: str) -> pa.Table:
    last = columns[-1]
    if len(columns) < 2 or pc.any(pc.not_equal(last, TOP)).as_py():
        columns = [*columns, pa.array([TOP] * len(last), pa.string())]
    table = pa.table({f"level_{i}": col for i, col in enumerate(columns)})
    if pc.count_distinct(table.column(0)).as_py() != table.num_rows:
        raise AnonymisationFailed("invalid_rules", f"hierarchy {name!r} lists a value twice")
    return table
