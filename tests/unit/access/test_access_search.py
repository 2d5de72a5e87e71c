"""Class keys, merged views and the lattice search, on Adult's profile."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from services.access.anonymisation.class_keys import ClassKeyEncoder, dense_ids
from services.access.anonymisation.hierarchy_tables import load_table
from services.access.anonymisation.ladders import Ladder, build_ladder
from services.access.anonymisation.lattice import NodeEvaluator, search_levels
from services.access.anonymisation.profile import Profile, profile_source
from services.access.anonymisation.pseudonymiser import Pseudonymiser
from services.access.anonymisation.source import open_source
from services.access.anonymisation.verification import measure_extract
from services.access.domain import ColumnRule, PrivacyTargets, pseudonym_of


@pytest.fixture(scope="module")
def adult_evaluator_parts(
    adult_dir: Path,
    adult_rules: list[ColumnRule],
    adult_qi: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Profile, list[Ladder]]:
    dataset = open_source(adult_dir / "adult.csv", "csv", adult_rules)
    spill = tmp_path_factory.mktemp("spill")
    profile = profile_source(dataset, [*adult_qi, "salary-class"], spill)
    ladders = [
        build_ladder(
            name,
            profile.values[name],
            rule.hint,
            load_table(adult_dir / f"adult_hierarchy_{name}.csv", has_header=False, name=name),
        )
        for name, rule in zip(adult_qi, adult_rules, strict=False)
    ]
    return profile, ladders


def test_merged_views_evaluate_nodes_exactly_like_the_full_profile(
    adult_evaluator_parts: tuple[Profile, list[Ladder]],
) -> None:
    profile, ladders = adult_evaluator_parts
    merged = NodeEvaluator(profile, ladders, ["salary-class"], PrivacyTargets())
    base = (1, 0, 0, 1, 1, 1, 1, 0)
    merged.focus(base)
    rng = np.random.default_rng(3)
    nodes = [
        tuple(int(rng.integers(b, lad.top + 1)) for b, lad in zip(base, ladders, strict=True))
        for _ in range(25)
    ]
    for node in nodes:
        full = NodeEvaluator(profile, ladders, ["salary-class"], PrivacyTargets())
        expected = full.summary(node)
        actual = merged.summary(node)
        assert actual.suppressed_rows == expected.suppressed_rows
        assert (actual.k, actual.l) == (expected.k, expected.l)
        assert actual.information_loss == pytest.approx(expected.information_loss)


def test_search_finds_no_worse_than_an_exhaustive_search_on_a_sublattice(
    adult_evaluator_parts: tuple[Profile, list[Ladder]],
) -> None:
    profile, ladders = adult_evaluator_parts
    evaluator = NodeEvaluator(profile, ladders, ["salary-class"], PrivacyTargets(k=10))
    found = search_levels(evaluator)
    fixed = {i: level for i, level in enumerate(found.levels) if ladders[i].top > 2}
    free = [i for i in range(len(ladders)) if i not in fixed]
    best = min(
        (
            evaluator.summary(
                tuple(
                    fixed[i] if i in fixed else choice[free.index(i)] for i in range(len(ladders))
                )
            )
            for choice in itertools.product(*[range(ladders[i].top + 1) for i in free])
        ),
        key=lambda node: (not node.within_budget, node.information_loss),
    )

    assert found.within_budget
    assert found.information_loss <= best.information_loss + 1e-12


def test_class_keys_survive_compaction_and_flag_unseen_tuples() -> None:
    rng = np.random.default_rng(5)
    cardinalities = [2_000_000_000, 3_000_000_000, 7]
    columns = [rng.integers(0, c, 1000).astype(np.int64) for c in cardinalities]
    encoder, keys = ClassKeyEncoder.learn(columns, cardinalities, 1000)

    again, known = encoder.encode(columns, 1000)
    assert encoder.compactions
    assert known.all() and np.array_equal(again, keys)
    assert len(np.unique(keys)) == len({tuple(t) for t in np.stack(columns, axis=1).tolist()})

    unseen = [
        np.array([c[0] + 1 if c[0] + 1 < n else c[0] - 1])
        for c, n in zip(columns, cardinalities, strict=True)
    ]
    _, known_unseen = encoder.encode(unseen, 1)
    assert not known_unseen.any()


def test_dense_ids_group_equal_tuples_only() -> None:
    columns = [np.array([0, 1, 0, 1, 0]), np.array([5, 5, 5, 4, 5])]
    ids, count = dense_ids(columns, [2, 6], 5)

    assert ids[0] == ids[2] == ids[4]
    assert len({ids[0], ids[1], ids[3]}) == 3
    assert count >= 3


def test_duckdb_pseudonyms_equal_the_domain_hmac() -> None:
    import pyarrow as pa

    for key in (b"k" * 32, b"a-key-longer-than-one-sha256-block-" * 3):
        pseudonymiser = Pseudonymiser(key)
        values = pa.array(["079012345678", None, "Nguyễn Thị Ánh", ""])
        try:
            released = pseudonymiser(values).to_pylist()
        finally:
            pseudonymiser.close()
        assert released == [None if v is None else pseudonym_of(key, v) for v in values.to_pylist()]


def test_measured_l_equals_pycanons_own_l_diversity(
    adult_dir: Path,
    adult_rules: list[ColumnRule],
    adult_hierarchies: dict[str, Path],
    adult_qi: list[str],
    tmp_path: Path,
) -> None:
    import pyarrow.parquet as pq
    from pycanon import anonymity

    from services.access.anonymisation import build_extract

    result = build_extract(
        adult_dir / "adult.csv",
        "csv",
        adult_rules,
        PrivacyTargets(k=3, l=1),
        b"k" * 32,
        tmp_path,
        adult_hierarchies,
    )
    frame = pq.read_table(result.parquet_path).to_pandas().astype(str).reset_index(drop=True)

    measured = measure_extract(result.parquet_path, adult_qi, ["salary-class"])
    assert measured.checkers == ("arrow", "pycanon")
    assert measured.l == anonymity.l_diversity(frame, adult_qi, ["salary-class"])
    assert measured.k == anonymity.k_anonymity(frame, adult_qi)
    by_arrow_alone = measure_extract(
        result.parquet_path, adult_qi, ["salary-class"], pycanon_max_rows=0
    )
    assert by_arrow_alone.checkers == ("arrow",)
    assert (by_arrow_alone.k, by_arrow_alone.l) == (measured.k, measured.l)


def test_both_checkers_count_null_as_a_value_of_its_own(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Classes: (x, 1) has 3 rows and diagnoses {a, null}; (null, 1) has 2 rows, {a, b}.
    table = pa.table(
        {
            "town": ["x", "x", "x", None, None],
            "band": [1, 1, 1, 1, 1],
            "diagnosis": ["a", None, "a", "a", "b"],
        }
    )
    pq.write_table(table, tmp_path / "extract.parquet")

    measured = measure_extract(tmp_path / "extract.parquet", ["town", "band"], ["diagnosis"])
    assert measured.checkers == ("arrow", "pycanon")
    assert (measured.rows, measured.k, measured.l) == (5, 2, 2)
