"""The search over generalisation levels, run on the profile's counts only.

A node is a vector of levels, one per quasi-identifier. Evaluating a node groups
the profile's combinations into equivalence classes at those levels; a class
smaller than k, or with fewer than ℓ distinct values of some sensitive column,
is suppressed. A node is feasible when the suppressed rows fit the budget.

Information loss of a node (reported in `PrivacyFigures.information_loss`): the
mean, over every cell of the quasi-identifier columns, of the loss metric of its
generalised value (see `ladders`), a suppressed row losing 1 in every cell.
0 means the data is released as it is, 1 that nothing of it is.

Search: the top node (everything `*`) is feasible unless the targets cannot be
met at all. From it, a steepest descent lowers, one level at a time, the column
whose lowering keeps the node feasible with the lowest loss, and stops when no
lowering is both feasible and better. Nodes near the top merge the profile into
few classes, so most evaluations run on small views (`views`); every evaluation
is cached. On Adult (8 quasi-identifiers, 6,480 nodes) this finds the same node
as an exhaustive search at k=5 with 52 evaluations.

Two exact prunings skip evaluations without changing the node found:
- a node's loss is at least its generalisation loss with nothing suppressed
  (`loss_floor`, a sum of per-level figures computed once), so candidates are
  evaluated in order of that floor and those whose floor exceeds the best loss
  found so far are never evaluated;
- when every ladder is a tree (each level a function of the one below), raising a
  level only merges classes, so suppression is monotone: a node below a node
  known to be infeasible is infeasible, and is skipped.
The view for a step is merged only when a candidate actually needs evaluating.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.access.anonymisation.class_keys import dense_ids, distinct_per_class
from services.access.anonymisation.ladders import Ladder
from services.access.anonymisation.profile import Profile
from services.access.anonymisation.views import ProfileView, rebase, root_view
from services.access.domain import AnonymisationFailed, PrivacyTargets

Levels = tuple[int, ...]
_MAX_EVALUATIONS = 5000
_WORTHWHILE_MERGE = 0.5  # a view holding more than this share of the profile saves little
_LOSS_MARGIN = 1e-9  # above float noise between the floor and a loss summed otherwise


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
        self.root = root_view(profile, ladders, sensitive)
        self._view = self.root
        self._view_loss: dict[tuple[int, int], float] = {}
        self._root_loss = {
            (column, level): loss
            for column in range(len(ladders))
            for level, loss in self.root.weighted_losses(column).items()
        }
        self._cache: dict[Levels, NodeSummary] = {}
        self._focus: Levels = self.root.base
        self._monotone = all(_is_tree(ladder) for ladder in ladders)
        self._infeasible: list[Levels] = []
        self._futile_bases: list[Levels] = []

    @property
    def evaluations(self) -> int:
        return len(self._cache)

    @property
    def top(self) -> Levels:
        return tuple(ladder.top for ladder in self.ladders)

    @property
    def sensitive_sizes(self) -> tuple[int, ...]:
        return self.root.sensitive_sizes

    def focus(self, base: Levels) -> None:
        """Evaluate nodes at or above `base` on a view merged at `base` (built when needed)."""
        self._focus = base

    def summary(self, levels: Levels) -> NodeSummary:
        cached = self._cache.get(levels)
        if cached is None:
            if len(self._cache) >= _MAX_EVALUATIONS:
                raise AnonymisationFailed(
                    "targets_unreachable", "the generalisation search ran out of evaluations"
                )
            cached = self._evaluate(self._view_for(levels), levels)[0]
            self._cache[levels] = cached
            if not cached.within_budget:
                self._infeasible.append(levels)
        return cached

    def loss_floor(self, levels: Levels) -> float:
        """The node's information loss if no row were suppressed: a lower bound of its loss."""
        total = self.profile.row_count
        if total == 0 or not self.ladders:
            return 0.0
        loss = sum(self._root_loss[column, level] for column, level in enumerate(levels))
        return loss / (total * len(self.ladders))

    def known_infeasible(self, levels: Levels) -> bool:
        """True if `levels` lies below a node found infeasible (only where that implies it)."""
        return self._monotone and any(
            all(level <= bad for level, bad in zip(levels, infeasible, strict=True))
            for infeasible in self._infeasible
        )

    def _view_for(self, levels: Levels) -> ProfileView:
        base = self._focus
        if (
            self._view.base != base
            and all(level >= floor for level, floor in zip(levels, base, strict=True))
            and not self._merging_is_futile(base)
        ):
            self._view = rebase(self._view if self._view.covers(base) else self.root, base)
            if len(self._view.counts) > _WORTHWHILE_MERGE * len(self.root.counts):
                self._futile_bases.append(base)
        return self._view if self._view.covers(levels) else self.root

    def _merging_is_futile(self, base: Levels) -> bool:
        """A view below a base that barely merged anything would not merge more."""
        return any(
            all(level <= futile for level, futile in zip(base, futile_base, strict=True))
            for futile_base in self._futile_bases
        )

    def kept_groups(self, levels: Levels) -> npt.NDArray[np.bool_]:
        """Which profile combinations survive suppression at `levels`."""
        return self._evaluate(self.root, levels)[1]

    def generalised_codes(self, levels: Levels) -> list[npt.NDArray[np.int64]]:
        """Per profile combination, each quasi-identifier's label code at `levels`."""
        return _label_codes(self.root, levels)

    def _evaluate(
        self, view: ProfileView, levels: Levels
    ) -> tuple[NodeSummary, npt.NDArray[np.bool_]]:
        counts = view.counts
        rows = len(counts)
        cardinalities = [
            lad.cardinalities[lv] for lad, lv in zip(self.ladders, levels, strict=True)
        ]
        ids, classes = dense_ids(_label_codes(view, levels), cardinalities, rows)
        sizes = np.bincount(ids, weights=counts, minlength=classes).astype(np.int64)
        class_ok = sizes >= self.targets.k
        diversity = np.full(classes, np.iinfo(np.int64).max, dtype=np.int64)
        for values, cardinality in zip(view.sensitive_codes, view.sensitive_sizes, strict=True):
            diversity = np.minimum(diversity, distinct_per_class(ids, classes, values, cardinality))
        if view.sensitive_codes:
            class_ok &= diversity >= self.targets.l
        kept = class_ok[ids]
        suppressed = int(counts[~kept].sum())
        released = class_ok & (sizes > 0)
        any_released = bool(released.any())
        achieved_k = int(sizes[released].min()) if any_released else 0
        achieved_l = None
        if view.sensitive_codes:
            achieved_l = int(diversity[released].min()) if any_released else 0
        summary = NodeSummary(
            levels=levels,
            suppressed_rows=suppressed,
            k=achieved_k,
            l=achieved_l,
            information_loss=self._loss(view, levels, kept, suppressed),
            within_budget=suppressed <= self.budget and suppressed < self.profile.row_count,
        )
        return summary, kept

    def _loss(
        self, view: ProfileView, levels: Levels, kept: npt.NDArray[np.bool_], suppressed: int
    ) -> float:
        total = self.profile.row_count
        if total == 0:
            return 0.0
        if not self.ladders:
            return suppressed / total
        # Loss of every row as generalised, then suppressed rows swapped for full loss.
        suppressed_groups = np.flatnonzero(~kept)
        suppressed_counts = view.counts[suppressed_groups]
        loss = 0.0
        for column, (level, codes, space) in enumerate(
            zip(levels, view.qi_codes, view.spaces, strict=True)
        ):
            generalised = space.level_loss[level][codes[suppressed_groups]]
            loss += self._root_loss[column, level] - float((suppressed_counts * generalised).sum())
        columns = len(self.ladders)
        return (loss + suppressed * columns) / (total * columns)


def _label_codes(view: ProfileView, levels: Levels) -> list[npt.NDArray[np.int64]]:
    return [
        space.label_codes(level, codes)
        for space, level, codes in zip(view.spaces, levels, view.qi_codes, strict=True)
    ]


Progress = Callable[[int], None]


def search_levels(evaluator: NodeEvaluator, on_step: Progress | None = None) -> NodeSummary:
    """A feasible node of low information loss, or AnonymisationFailed."""
    top = evaluator.summary(evaluator.top)
    if not top.within_budget:
        raise AnonymisationFailed("targets_unreachable", _why_unreachable(evaluator, top))
    return _descend(evaluator, top, on_step)


def _descend(evaluator: NodeEvaluator, node: NodeSummary, on_step: Progress | None) -> NodeSummary:
    """Steepest descent in loss over feasible nodes, lowering one column at a time."""
    while True:
        evaluator.focus(tuple(max(0, level - 1) for level in node.levels))
        best = node
        for levels in sorted(_lowerings(node.levels), key=evaluator.loss_floor):
            if evaluator.loss_floor(levels) > best.information_loss + _LOSS_MARGIN:
                break  # neither this candidate nor any later one can beat `best`
            if evaluator.known_infeasible(levels):
                continue
            candidate = evaluator.summary(levels)
            if candidate.within_budget and _loss_then_height(candidate) < _loss_then_height(best):
                best = candidate
        if best is node:
            return node
        node = best
        if on_step:
            on_step(evaluator.evaluations)


def _loss_then_height(node: NodeSummary) -> tuple[float, int]:
    return (round(node.information_loss, 12), sum(node.levels))


def _lowerings(levels: Levels) -> list[Levels]:
    return [_with(levels, i, level - 1) for i, level in enumerate(levels) if level > 0]


def _with(levels: Levels, index: int, level: int) -> Levels:
    return (*levels[:index], level, *levels[index + 1 :])


def _is_tree(ladder: Ladder) -> bool:
    """Whether each level's label is a function of the label one level below."""
    for lower, upper in zip(ladder.codes, ladder.codes[1:], strict=False):
        if len(lower) == 0:
            continue
        image = np.zeros(int(lower.max()) + 1, dtype=np.int64)
        image[lower] = upper
        if not np.array_equal(image[lower], upper):
            return False
    return True


def _why_unreachable(evaluator: NodeEvaluator, top: NodeSummary) -> str:
    targets = evaluator.targets
    rows = evaluator.profile.row_count
    if rows < targets.k:
        return f"k={targets.k} exceeds the {rows} rows of the data"
    if any(size < targets.l for size in evaluator.sensitive_sizes):
        return f"a sensitive column has fewer than ℓ={targets.l} distinct values in the whole data"
    return (
        f"even fully generalised, {top.suppressed_rows} of {rows} rows would be suppressed "
        f"(budget {evaluator.budget})"
    )
