"""Fixtures for the anonymisation engine: Adult rules and a small citizens' file."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.access.domain import ColumnRule, HierarchyTable, NumericBands, Suppress

ADULT_QUASI_IDENTIFIERS = [
    "age",
    "sex",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "occupation",
]


@pytest.fixture(scope="session")
def adult_qi() -> list[str]:
    return list(ADULT_QUASI_IDENTIFIERS)


@pytest.fixture(scope="session")
def adult_rules() -> list[ColumnRule]:
    return [
        ColumnRule(name=name, classification="quasi_identifier", hint=HierarchyTable())
        for name in ADULT_QUASI_IDENTIFIERS
    ] + [ColumnRule(name="salary-class", classification="sensitive")]


@pytest.fixture(scope="session")
def adult_hierarchies(adult_dir: Path) -> dict[str, Path]:
    return {name: adult_dir / f"adult_hierarchy_{name}.csv" for name in ADULT_QUASI_IDENTIFIERS}


TOWNS = ["Hà Nội", "Huế", "Đà Nẵng"]
DIAGNOSES = ["flu", "asthma", "diabetes"]


@pytest.fixture
def citizens_csv(tmp_path: Path) -> Path:
    """300 common records and one unique one: a 95-year-old in the hamlet of Mường Tè."""
    lines = ["national_id,full_name,phone,age,town,diagnosis"]
    for n in range(300):
        lines.append(
            f"0790{n:08d},Người Số {n},0912{n:06d},{20 + n % 40},{TOWNS[n % 3]},{DIAGNOSES[n % 3]}"
        )
    lines.append("079099999999,Cụ Bà Lò Thị Hiếm,0912999999,95,Mường Tè,dementia")
    path = tmp_path / "citizens.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def citizen_rules() -> list[ColumnRule]:
    return [
        ColumnRule(name="national_id", classification="direct_identifier", keep_as_pseudonym=True),
        ColumnRule(name="full_name", classification="direct_identifier"),
        ColumnRule(name="phone", classification="direct_identifier"),
        ColumnRule(
            name="age",
            classification="quasi_identifier",
            type="integer",
            hint=NumericBands(widths=(5, 10, 20)),
        ),
        ColumnRule(name="town", classification="quasi_identifier", hint=Suppress()),
        ColumnRule(name="diagnosis", classification="sensitive"),
    ]
