"""Generalisation ladders built from the column hints."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from services.access.anonymisation.hierarchy_tables import load_table
from services.access.anonymisation.ladders import Ladder, build_ladder
from services.access.domain import (
    AdminLevel,
    AnonymisationFailed,
    DateTruncation,
    HierarchyTable,
    NumericBands,
    Suppress,
)


def labels(ladder: Ladder, level: int) -> list[object]:
    values: list[object] = ladder.labels[level].to_pylist()
    return values


def test_numeric_bands_widen_level_by_level_then_star() -> None:
    ladder = build_ladder("age", pa.array([3, 17, 42, None]), NumericBands(widths=(5, 10)), None)

    assert labels(ladder, 0) == [3, 17, 42, None]
    assert labels(ladder, 1) == ["0-4", "15-19", "40-44", "*"]
    assert labels(ladder, 2) == ["0-9", "10-19", "40-49", "*"]
    assert labels(ladder, 3) == ["*", "*", "*", "*"]


def test_numeric_bands_on_reals_are_half_open_intervals() -> None:
    ladder = build_ladder("bmi", pa.array([18.2, 31.9]), NumericBands(widths=(2.5,)), None)

    assert labels(ladder, 1) == ["[17.5, 20)", "[30, 32.5)"]


def test_dates_truncate_to_month_year_decade() -> None:
    values = pa.array([dt.date(1987, 3, 14), dt.date(2001, 12, 1)])
    ladder = build_ladder("born", values, DateTruncation(), None)

    assert [labels(ladder, level) for level in (1, 2, 3, 4)] == [
        ["1987-03", "2001-12"],
        ["1987", "2001"],
        ["1980s", "2000s"],
        ["*", "*"],
    ]


def test_admin_levels_follow_the_mapping_table_and_unknown_units_go_to_star(
    tmp_path: Path,
) -> None:
    table_file = tmp_path / "admin.csv"
    table_file.write_text(
        "commune,province,region\nPhúc Xá,Hà Nội,Đồng bằng sông Hồng\n"
        "Bến Nghé,TP Hồ Chí Minh,Đông Nam Bộ\n",
        encoding="utf-8",
    )
    table = load_table(table_file, has_header=True, name="admin")
    ladder = build_ladder(
        "commune", pa.array(["Bến Nghé", "Phúc Xá", "Atlantis"]), AdminLevel(), table
    )

    assert labels(ladder, 1) == ["TP Hồ Chí Minh", "Hà Nội", "*"]
    assert labels(ladder, 2) == ["Đông Nam Bộ", "Đồng bằng sông Hồng", "*"]
    assert ladder.top == 3


def test_arx_hierarchy_levels_and_loss(adult_dir: Path) -> None:
    table = load_table(
        adult_dir / "adult_hierarchy_education.csv", has_header=False, name="education"
    )
    values = pa.array(["Bachelors", "Masters", "Doctorate", "9th"])
    ladder = build_ladder("education", values, HierarchyTable(), table)

    assert labels(ladder, 1) == ["Undergraduate", "Graduate", "Graduate", "High School"]
    assert labels(ladder, 2)[:3] == ["Higher education"] * 3
    assert ladder.cell_loss[0].tolist() == [0.0] * 4
    assert ladder.cell_loss[1].tolist() == pytest.approx([0.0, 1 / 3, 1 / 3, 0.0])
    assert ladder.cell_loss[ladder.top].tolist() == [1.0] * 4


def test_suppress_only_keeps_or_stars() -> None:
    ladder = build_ladder("town", pa.array(["Huế", "Vinh"]), Suppress(), None)

    assert ladder.top == 1
    assert labels(ladder, 1) == ["*", "*"]


def test_bands_on_text_are_refused() -> None:
    with pytest.raises(AnonymisationFailed) as failure:
        build_ladder("town", pa.array(["Huế"]), NumericBands(widths=(5,)), None)

    assert failure.value.reason == "invalid_rules"


def test_a_hierarchy_listing_a_value_twice_is_refused() -> None:
    with pytest.raises(AnonymisationFailed):
        load_table([["a", "x"], ["a", "y"]], has_header=False, name="dup")
