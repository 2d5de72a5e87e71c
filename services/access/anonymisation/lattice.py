"""The search over generalisation levels, run on the profile's counts only.

A node is a vector of levels, one per quasi-identifier. Evaluating a node groups
the profile's combinations into equivalence classes at those levels; a class
smaller than k, or with fewer than ℓ distinct values of some sensitive column,
is suppressed. A node is feasible when the suppressed rows fit the budget.

Information loss of a node (reported in `PrivacyFigures.information_loss`): the
mean, over every cell of the quasi-identifier columns, of the loss metric of its
generalised value (see `ladders`), a suppressed row losing 1 in every cell.
0 means the data is released as it is, 1 that nothing of it is.

Search: k-anonymity and ℓ-diversity classes only merge as levels rise, so a
class that fails on one column alone fails whatever the others are: that gives
each column a lowest useful level. From there a greedy ascent raises, one step
at a time, the column whose raise gives the lowest loss (suppressed rows
counting fully), until the node is feasible; a local search then tries to lower
one column, or lower one and raise another, while the node stays feasible and
the loss drops. Every node evaluated is cached.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.access.anonymisation.class_keys import dense_ids, distinct_per_class
from services.access.anonymisation.ladders import Ladder
from services.access.anonymisation.profile import Profile
from services.access.domain import AnonymisationFailed, PrivacyTargets

Levels = tuple[int, ...]
_MAX_EVALUATIONS = 5000


@dataclass(frozen=True)
class NodeSummary:
    """What releasing the data at `levels` would achieve."""

    levels: Levels
    suppressed_rows: int
    k: int
    l: int | None  # noqa: E741
    information_loss: float
    within_budget: bool


class NodeEvaluator:
    """Evaluates generalisation nodes against the targets on a profile's counts."""

    def __init__(
        self,
        profile: Profile,
        ladders: Sequence[Ladder],
        sensitive: Sequence[str],
        targets: PrivacyTargets,
    ) -> None:
        self.profile = profile
        self.ladders = tuple(ladders)
        self.targets = targets
        self.budget = math.floor(targets.max_suppression * profile.row_count + 1e-9)
        self._qi_codes = [profile.codes[ladder.column] for ladder in ladders]
        self.sensitive = [(profile.codes[s], len(profile.values[s])) for s in sensitive]
        self._cache: dict[Levels, NodeSummary] = {}
        self._column_loss = [self._weighted_loss_per_level(ladder) for ladder in ladders]

    @property
    def evaluations(self) -> int:
        return len(self._cache)

    @property
    def top(self) -> Levels:
        return tuple(ladder.top for ladder in self.ladders)

    def summary(self, levels: Levels) -> NodeSummary:
        cached = self._cache.get(levels)
        if cached is None:
            if len(self._cache) >= _MAX_EVALUATIONS:
                raise AnonymisationFailed(
                    "targets_unreachable", "the generalisation search ran out of evaluations"
                )
            cached = self._evaluate(levels)[0]
            self._cache[levels] = cached
        return cached

    def kept_groups(self, levels: Levels) -> npt.NDArray[np.bool_]:
        """Which profile combinations survive suppression at `levels`."""
        return self._evaluate(levels)[1]

    def generalised_codes(self, levels: Levels) -> list[npt.NDArray[np.int64]]:
        return [
            ladder.codes[level][codes]
            for ladder, level, codes in zip(self.ladders, levels, self._qi_codes, strict=True)
        ]

    def _evaluate(self, levels: Levels) -> tuple[NodeSummary, npt.NDArray[np.bool_]]:
        counts = self.profile.counts
        rows = len(counts)
        cardinalities = [
            lad.cardinalities[lv] for lad, lv in zip(self.ladders, levels, strict=True)
        ]
        ids, classes = dense_ids(self.generalised_codes(levels), cardinalities, rows)
        sizes = np.bincount(ids, weights=counts, minlength=classes).astype(np.int64)
        class_ok = sizes >= self.targets.k
        diversity = np.full(classes, np.iinfo(np.int64).max, dtype=np.int64)
        for values, cardinality in self.sensitive:
            diversity = np.minimum(diversity, distinct_per_class(ids, classes, values, cardinality))
        if self.sensitive:
            class_ok &= diversity >= self.targets.l
        kept = class_ok[ids]
        suppressed = int(counts[~kept].sum())
        released = class_ok & (sizes > 0)
        achieved_k = int(sizes[released].min()) if released.any() else 0
        achieved_l = (
            (int(diversity[released].min()) if released.any() else 0) if self.sensitive else None
        )
        summary = NodeSummary(
            levels=levels,
            suppressed_rows=suppressed,
            k=achieved_k,
            l=achieved_l,
            information_loss=self._loss(levels, kept, suppressed),
            within_budget=suppressed <= self.budget and suppressed < self.profile.row_count,
        )
        return summary, kept

    def _weighted_loss_per_level(self, ladder: Ladder) -> list[float]:
        rows_per_value = np.bincount(
            self.profile.codes[ladder.column],
            weights=self.profile.counts,
            minlength=len(ladder.values),
        )
        return [float((rows_per_value * loss).sum()) for loss in ladder.cell_loss]

    def _loss(self, levels: Levels, kept: npt.NDArray[np.bool_], suppressed: int) -> float:
        total = self.profile.row_count
        if total == 0:
            return 0.0
        if not self.ladders:
            return suppressed / total
        # Loss of every row as generalised, then suppressed rows swapped for full loss.
        suppressed_groups = np.flatnonzero(~kept)
        suppressed_counts = self.profile.counts[suppressed_groups]
        loss = 0.0
        for ladder, level, codes, per_level in zip(
            self.ladders, levels, self._qi_codes, self._column_loss, strict=True
        ):
            generalised = ladder.cell_loss[level][codes[suppressed_groups]]
            loss += per_level[level] - float((suppressed_counts * generalised).sum())
        columns = len(self.ladders)
        return (loss + suppressed * columns) / (total * columns)


Progress = Callable[[int], None]


def search_levels(evaluator: NodeEvaluator, on_step: Progress | None = None) -> NodeSummary:
    """A feasible node of low information loss, or AnonymisationFailed."""
    top = evaluator.summary(evaluator.top)
    if not top.within_budget:
        raise AnonymisationFailed("targets_unreachable", _why_unreachable(evaluator, top))
    floor = _lowest_useful_levels(evaluator)
    node = evaluator.summary(floor)
    while not node.within_budget:
        raises = [evaluator.summary(lv) for lv in _raises(node.levels, evaluator.top)]
        feasible = [n for n in raises if n.within_budget]
        node = min(feasible or raises, key=_loss_then_height)
        if on_step:
            on_step(evaluator.evaluations)
    while True:
        moves = [evaluator.summary(lv) for lv in _refinements(node.levels, floor, evaluator.top)]
        better = [
            n for n in moves if n.within_budget and _loss_then_height(n) < _loss_then_height(node)
        ]
        if not better:
            return node
        node = min(better, key=_loss_then_height)
        if on_step:
            on_step(evaluator.evaluations)


def _loss_then_height(node: NodeSummary) -> tuple[float, int]:
    return (round(node.information_loss, 12), sum(node.levels))


def _lowest_useful_levels(evaluator: NodeEvaluator) -> Levels:
    top = evaluator.top
    floor = []
    for column, column_top in enumerate(top):
        level = 0
        while level < column_top:
            alone = top[:column] + (level,) + top[column + 1 :]
            if evaluator.summary(alone).within_budget:
                break
            level += 1
        floor.append(level)
    return tuple(floor)


def _raises(levels: Levels, top: Levels) -> list[Levels]:
    return [_with(levels, i, lv + 1) for i, lv in enumerate(levels) if lv < top[i]]


def _refinements(levels: Levels, floor: Levels, top: Levels) -> list[Levels]:
    lowered = [_with(levels, i, lv - 1) for i, lv in enumerate(levels) if lv > floor[i]]
    swaps = [
        _with(down, j, levels[j] + 1)
        for i, down in (
            (i, _with(levels, i, lv - 1)) for i, lv in enumerate(levels) if lv > floor[i]
        )
        for j in range(len(levels))
        if j != i and levels[j] < top[j]
    ]
    return lowered + swaps


def _with(levels: Levels, index: int, level: int) -> Levels:
    return levels[:index] + (level,) + levels[index + 1 :]


def _why_unreachable(evaluator: NodeEvaluator, top: NodeSummary) -> str:
    targets = evaluator.targets
    rows = evaluator.profile.row_count
    if rows < targets.k:
        return f"k={targets.k} exceeds the {rows} rows of the data"
    if any(cardinality < targets.l for _, cardinality in evaluator.sensitive):
        return f"a sensitive column has fewer than ℓ={targets.l} distinct values in the whole data"
    return (
        f"even fully generalised, {top.suppressed_rows} of {rows} rows would be suppressed "
        f"(budget {evaluator.budget})"
    )
