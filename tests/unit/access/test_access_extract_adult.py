"""The Adult census extract meets its targets as an independent checker measures them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from pycanon import anonymity

from services.access.anonymisation import ExtractResult, build_extract
from services.access.domain import ColumnRule, PrivacyTargets

KEY = b"\x07" * 32


def checker_frame(parquet: Path, columns: list[str]) -> pd.DataFrame:
    frame = pq.read_table(parquet, columns=columns).to_pandas()
    return frame.astype(str).reset_index(drop=True)


@pytest.fixture(scope="module")
def adult_extract(
    adult_dir: Path,
    adult_rules: list[ColumnRule],
    adult_hierarchies: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> ExtractResult:
    out = tmp_path_factory.mktemp("adult")
    return build_extract(
        adult_dir / "adult.csv", "csv", adult_rules, PrivacyTargets(), KEY, out, adult_hierarchies
    )


def test_adult_is_5_anonymous_and_2_diverse_by_pycanon(
    adult_extract: ExtractResult, adult_qi: list[str]
) -> None:
    frame = checker_frame(adult_extract.parquet_path, [*adult_qi, "salary-class"])

    assert anonymity.k_anonymity(frame, adult_qi) >= 5
    assert anonymity.l_diversity(frame, adult_qi, ["salary-class"]) >= 2


def test_adult_suppresses_at_most_5_percent_and_reports_it(adult_extract: ExtractResult) -> None:
    rows_written = pq.read_metadata(adult_extract.parquet_path).num_rows

    assert adult_extract.rows_in == 30162
    assert rows_written == adult_extract.rows_out
    assert 1 - rows_written / 30162 <= 0.05
    assert adult_extract.figures.suppression_share == pytest.approx(1 - rows_written / 30162)


def test_adult_figures_are_the_checkers_and_loss_is_sensible(
    adult_extract: ExtractResult, adult_qi: list[str]
) -> None:
    frame = checker_frame(adult_extract.parquet_path, [*adult_qi, "salary-class"])
    figures = adult_extract.figures

    assert figures.k == anonymity.k_anonymity(frame, adult_qi)
    assert figures.l == anonymity.l_diversity(frame, adult_qi, ["salary-class"])
    assert 0.0 < figures.information_loss < 0.5
    assert set(figures.levels) == set(adult_qi)
    assert any(level == 0 for level in figures.levels.values())


def test_adult_generalised_values_come_from_the_hierarchies(
    adult_extract: ExtractResult, adult_hierarchies: dict[str, Path]
) -> None:
    table = pq.read_table(adult_extract.parquet_path)
    for column, level in adult_extract.figures.levels.items():
        rows = [
            line.split(";")
            for line in adult_hierarchies[column].read_text().splitlines()
            if line.strip()
        ]
        allowed = {row[level] for row in rows}
        released = set(pc.cast(table.column(column), "string").unique().to_pylist())
        assert released <= allowed, column


def test_adult_csv_holds_the_same_rows_as_the_parquet(adult_extract: ExtractResult) -> None:
    from_csv = pa_csv.read_csv(adult_extract.csv_path).to_pandas().astype(str)
    from_parquet = pq.read_table(adult_extract.parquet_path).to_pandas().astype(str)

    assert list(from_csv.columns) == list(from_parquet.columns)
    pd.testing.assert_frame_equal(from_csv, from_parquet)


def test_adult_from_parquet_in_small_batches_matches_the_csv_build(
    adult_dir: Path,
    adult_rules: list[ColumnRule],
    adult_hierarchies: dict[str, Path],
    adult_extract: ExtractResult,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import services.access.anonymisation.writer as writer

    source = tmp_path / "adult.parquet"
    pq.write_table(
        pa_csv.read_csv(adult_dir / "adult.csv", parse_options=pa_csv.ParseOptions(delimiter=";")),
        source,
        row_group_size=4000,
    )
    monkeypatch.setattr(writer, "BATCH_ROWS", 1000)

    result = build_extract(
        source, "parquet", adult_rules, PrivacyTargets(), KEY, tmp_path / "out", adult_hierarchies
    )

    assert result.figures.model_copy(update={"information_loss": 0.0}) == (
        adult_extract.figures.model_copy(update={"information_loss": 0.0})
    )
    assert result.figures.information_loss == pytest.approx(adult_extract.figures.information_loss)
    assert pq.read_table(result.parquet_path).equals(pq.read_table(adult_extract.parquet_path))


def test_the_binary_search_of_released_classes_matches_the_lookup_table(
    adult_dir: Path,
    adult_rules: list[ColumnRule],
    adult_hierarchies: dict[str, Path],
    adult_extract: ExtractResult,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import services.access.anonymisation.writer as writer

    monkeypatch.setattr(writer, "_MAX_TABLE_KEYS", 0)  # as if the keys were too many
    result = build_extract(
        adult_dir / "adult.csv",
        "csv",
        adult_rules,
        PrivacyTargets(),
        KEY,
        tmp_path / "out",
        adult_hierarchies,
    )

    assert result.rows_out == adult_extract.rows_out
    assert pq.read_table(result.parquet_path).equals(pq.read_table(adult_extract.parquet_path))
