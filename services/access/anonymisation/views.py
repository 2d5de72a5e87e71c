"""Aggregated views of the profile, to evaluate many lattice nodes cheaply.

A view fixes a base node: it can evaluate any node at or above its base. Where a
column's ladder is a tree above the base level (every label at the base level
has one label at each higher level), the view codes that column by its base
label and merges the profile's combinations that become equal, so it holds far
fewer rows than the profile. Columns whose higher levels are not a function of
the base level (e.g. numeric bands of width 20 then 50) keep their raw codes.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from services.access.anonymisation.class_keys import dense_ids
from services.access.anonymisation.ladders import Ladder
from services.access.anonymisation.profile import Profile

Codes = npt.NDArray[np.int64]
Losses = npt.NDArray[np.float64]
Levels = tuple[int, ...]
Scalar = TypeVar("Scalar", bound=np.generic)


@dataclass(frozen=True)
class ColumnSpace:
    """A quasi-identifier coded in a view: code -> label code and cell loss per level."""

    size: int
    level_codes: dict[int, Codes]
    level_loss: dict[int, Losses]

    @cached_property
    def identity_levels(self) -> frozenset[int]:
        """Levels whose label code is the column code itself (nothing to look up)."""
        identity = np.arange(self.size, dtype=np.int64)
        return frozenset(
            level
            for level, codes in self.level_codes.items()
            if len(codes) == self.size and np.array_equal(codes, identity)
        )

    def label_codes(self, level: int, codes: Codes) -> Codes:
        """Each row's label code at `level`, given its code in this space."""
        return codes if level in self.identity_levels else self.level_codes[level][codes]


@dataclass(frozen=True)
class ProfileView:
    """Counts per combination of (QI codes in their column spaces, sensitive codes)."""

    base: Levels
    counts: Codes
    qi_codes: tuple[Codes, ...]
    spaces: tuple[ColumnSpace, ...]
    sensitive_codes: tuple[Codes, ...]
    sensitive_sizes: tuple[int, ...]

    def covers(self, levels: Levels) -> bool:
        return all(level >= base for level, base in zip(levels, self.base, strict=True))

    def weighted_loss(self, column: int, level: int) -> float:
        """Sum over all rows of the column's cell loss at `level`."""
        return self.weighted_losses(column)[level]

    def weighted_losses(self, column: int) -> dict[int, float]:
        """`weighted_loss` of every level of the column, counting the rows once."""
        space = self.spaces[column]
        rows_per_code = np.bincount(
            self.qi_codes[column], weights=self.counts, minlength=space.size
        )
        return {
            level: float((rows_per_code * loss).sum()) for level, loss in space.level_loss.items()
        }


def root_view(profile: Profile, ladders: Sequence[Ladder], sensitive: Sequence[str]) -> ProfileView:
    spaces = tuple(
        ColumnSpace(
            size=len(ladder.values),
            level_codes=dict(enumerate(ladder.codes)),
            level_loss=dict(enumerate(ladder.cell_loss)),
        )
        for ladder in ladders
    )
    return ProfileView(
        base=tuple(0 for _ in ladders),
        counts=profile.counts,
        qi_codes=tuple(profile.codes[ladder.column] for ladder in ladders),
        spaces=spaces,
        sensitive_codes=tuple(profile.codes[s] for s in sensitive),
        sensitive_sizes=tuple(len(profile.values[s]) for s in sensitive),
    )


def rebase(view: ProfileView, base: Levels) -> ProfileView:
    """A view at `base` (at or above `view.base`), merging what becomes equal."""
    qi_codes, spaces = [], []
    for codes, space, level in zip(view.qi_codes, view.spaces, base, strict=True):
        to_base = space.level_codes[level]
        size = int(to_base.max()) + 1 if len(to_base) else 0
        higher = [lv for lv in space.level_codes if lv >= level]
        tables = {lv: _through(to_base, space.level_codes[lv], size) for lv in higher}
        if all(table is not None for table in tables.values()):
            losses = {lv: _through(to_base, space.level_loss[lv], size) for lv in higher}
            qi_codes.append(to_base[codes])
            spaces.append(
                ColumnSpace(
                    size,
                    {lv: t for lv, t in tables.items() if t is not None},
                    {lv: t for lv, t in losses.items() if t is not None},
                )
            )
        else:
            qi_codes.append(codes)
            spaces.append(space)
    columns = [*qi_codes, *view.sensitive_codes]
    sizes = [space.size for space in spaces] + list(view.sensitive_sizes)
    rows = len(view.counts)
    ids, bound = dense_ids(columns, sizes, rows)
    counts = np.bincount(ids, weights=view.counts, minlength=bound).astype(np.int64)
    representative = np.zeros(bound, dtype=np.int64)
    representative[ids] = np.arange(rows, dtype=np.int64)
    # One row per merged combination, taken in row order so that the gathers below
    # walk memory forwards.
    rows_kept = np.sort(representative[np.flatnonzero(counts)])
    return ProfileView(
        base=base,
        counts=counts[ids[rows_kept]],
        qi_codes=tuple(c[rows_kept] for c in qi_codes),
        spaces=tuple(spaces),
        sensitive_codes=tuple(c[rows_kept] for c in view.sensitive_codes),
        sensitive_sizes=view.sensitive_sizes,
    )


def _through(
    to_base: Codes, per_code: npt.NDArray[Scalar], size: int
) -> npt.NDArray[Scalar] | None:
    """`per_code` re-indexed by base label, or None when a base label maps to two values."""
    table = np.zeros(size, dtype=per_code.dtype)
    table[to_base] = per_code
    if not np.array_equal(table[to_base], per_code):
        return None
    return table
