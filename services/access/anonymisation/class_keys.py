"""Equivalence-class keys: combine per-column codes into one integer per row.

Codes are combined in mixed radix; when the product of cardinalities would overflow
int64 the running key is first compacted to its rank among the keys seen while
learning. The same encoder then keys streamed batches, and flags combinations it
never saw (which the writer suppresses: fail closed).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]

Codes = npt.NDArray[np.int64]
_MAX_KEY = 1 << 62
_DENSE_BINCOUNT_FACTOR = 2
_COUNTING_FACTOR = 16  # counting a bin costs about a sixteenth of hashing a row
_COUNTING_COMPACTION_LIMIT = 1 << 24  # bins, to bound the temporary arrays


@dataclass(frozen=True)
class ClassKeyEncoder:
    """Keys tuples of codes (column i in 0..cardinalities[i]-1) as int64."""

    cardinalities: tuple[int, ...]
    compactions: dict[int, Codes]

    @classmethod
    def learn(
        cls, columns: Sequence[Codes], cardinalities: Sequence[int], rows: int
    ) -> tuple["ClassKeyEncoder", Codes]:
        """An encoder for these tuples, and their keys."""
        key = np.zeros(rows, dtype=np.int64)
        bound = 1
        compactions: dict[int, Codes] = {}
        for i, (codes, cardinality) in enumerate(zip(columns, cardinalities, strict=True)):
            if bound * cardinality > _MAX_KEY:
                table = np.unique(key)
                key = np.searchsorted(table, key).astype(np.int64)
                bound = len(table)
                compactions[i] = table
            # In place: a fresh array per column would cost more in page faults than maths.
            np.multiply(key, cardinality, out=key)
            key += codes
            bound *= cardinality
        return cls(tuple(cardinalities), compactions), key

    def encode(self, columns: Sequence[Codes], rows: int) -> tuple[Codes, npt.NDArray[np.bool_]]:
        """Keys of `rows` tuples, and which of them the encoder knew."""
        key = np.zeros(rows, dtype=np.int64)
        known = np.ones(rows, dtype=np.bool_)
        for i, (codes, cardinality) in enumerate(zip(columns, self.cardinalities, strict=True)):
            table = self.compactions.get(i)
            if table is not None:
                rank = np.minimum(np.searchsorted(table, key), len(table) - 1)
                known &= table[rank] == key
                key = rank.astype(np.int64)
            key = key * cardinality + codes
        return key, known


def mixed_radix_bound(cardinalities: Sequence[int]) -> int:
    """The number of distinct keys mixed radix could produce (Python int, unbounded)."""
    bound = 1
    for cardinality in cardinalities:
        bound *= cardinality
    return bound


def dense_ids(
    columns: Sequence[Codes], cardinalities: Sequence[int], rows: int
) -> tuple[Codes, int]:
    """Per-row class ids in 0..n-1 (n may exceed the number of classes: some are empty)."""
    encoder, keys = ClassKeyEncoder.learn(columns, cardinalities, rows)
    if not encoder.compactions:
        bound = mixed_radix_bound(cardinalities)
        if bound <= _DENSE_BINCOUNT_FACTOR * rows + 1024:
            return keys, bound
        if bound <= min(_COUNTING_FACTOR * rows, _COUNTING_COMPACTION_LIMIT):
            present = np.bincount(keys, minlength=bound) > 0
            rank = np.cumsum(present) - 1
            return rank[keys], int(rank[-1]) + 1
    return _compact(keys)


def _compact(keys: Codes) -> tuple[Codes, int]:
    ids, distinct = pd.factorize(keys, sort=False)
    return np.asarray(ids, dtype=np.int64), len(distinct)


def distinct_per_class(ids: Codes, classes: int, values: Codes, cardinality: int) -> Codes:
    """How many distinct `values` each class holds (distinct ℓ-diversity)."""
    pairs = ids * cardinality + values
    bound = classes * cardinality
    if bound <= _DENSE_BINCOUNT_FACTOR * len(ids) + 1024:
        present = np.bincount(pairs, minlength=bound) > 0
        return np.asarray(present.reshape(classes, cardinality).sum(axis=1), dtype=np.int64)
    distinct_pairs = np.unique(pairs)
    return np.bincount(distinct_pairs // cardinality, minlength=classes).astype(np.int64)
