"""What a preview may show: masked counts, histograms with ≥ k rows a bin, synthetic rows."""

from __future__ import annotations

import itertools
import random

import pytest

from services.access.domain.preview_profile import (
    MAX_SYNTHETIC_ROWS,
    categorical_profile,
    fine_origin,
    masked,
    merge_bins,
    nice_step,
    synthetic_rows,
    withheld_profile,
)


def test_counts_below_k_are_masked() -> None:
    assert [masked(n, 5) for n in (0, 1, 4, 5, 60)] == [0, "<5", "<5", 5, 60]


def test_categorical_profile_masks_rare_values_and_the_rest() -> None:
    profile = categorical_profile([("a", 50), ("b", 7), ("c", 2)], non_null=61, nulls=3, k=5)
    assert profile["top"] == [
        {"value": "a", "count": 50},
        {"value": "b", "count": 7},
        {"value": "c", "count": "<5"},
    ]
    assert profile["other"] == "<5" and profile["nulls"] == "<5"


@pytest.mark.parametrize(
    ("span", "integer", "step"),
    [(100.0, True, 5.0), (7.0, True, 1.0), (0.0, True, 1.0), (1.0, False, 0.05), (1e6, False, 5e4)],
)
def test_bin_widths_are_round(span: float, integer: bool, step: float) -> None:
    assert nice_step(span, integer=integer) == step


def test_every_merged_bin_holds_at_least_k_rows() -> None:
    rng = random.Random(3)
    for _ in range(200):
        k = rng.randint(2, 12)
        counts = {i: rng.choice((0, 1, 2, 3, 20)) for i in range(rng.randint(1, 30))}
        bins = merge_bins(counts, 0.0, 1.0, k)
        total = sum(counts.values())
        if total < k:
            assert bins == []
            continue
        assert all(b.count >= k for b in bins)
        assert sum(b.count for b in bins) == total
        assert all(a.upper <= b.lower for a, b in itertools.pairwise(bins))


def test_bin_edges_are_rounded_to_the_step() -> None:
    origin = fine_origin(17.3, 0.1)
    assert origin == 17.3
    bins = merge_bins({0: 5, 1: 5}, origin, 0.1, 5)
    assert [(b.lower, b.upper) for b in bins] == [(17.3, 17.4), (17.4, 17.5)]


def test_synthetic_rows_draw_only_shown_values_and_no_identifier() -> None:
    columns = [
        {"name": "id", "profile": withheld_profile()},
        {"name": "sex", "profile": categorical_profile([("F", 9), ("M", 8), ("X", 1)], 18, 0, 5)},
        {
            "name": "age",
            "profile": {
                "kind": "histogram",
                "bins": [{"from": 20, "to": 30, "count": 6}, {"from": 30, "to": 40, "count": 5}],
            },
        },
    ]
    rows = synthetic_rows(columns, seed="listing:1", rows=50)
    assert len(rows) == MAX_SYNTHETIC_ROWS
    assert all(r["synthetic"] is True and set(r["values"]) == {"sex", "age"} for r in rows)
    assert {r["values"]["sex"] for r in rows} <= {"F", "M"}
    assert all(20 <= r["values"]["age"] < 40 for r in rows)
    assert synthetic_rows(columns, seed="listing:1") == synthetic_rows(columns, seed="listing:1")
