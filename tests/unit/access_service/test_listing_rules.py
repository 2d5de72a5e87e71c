"""Catalog hints become the engine's column rules, hierarchy tables included."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.access.domain import (
    AdminLevel,
    AnonymisationFailed,
    DateTruncation,
    HierarchyTable,
    NumericBands,
)
from services.access.domain.listing_rules import plan_from_columns
from vndx.demo_data import adult_listing, demo_datasets


def test_every_hint_kind_maps_onto_a_rule() -> None:
    columns = next(d for d in demo_datasets() if d.org == "byt").listing["columns"]
    plan = plan_from_columns(columns)
    rules = {rule.name: rule for rule in plan.rules}
    assert rules["visit_date"].hint == DateTruncation(units=("month", "year"))
    assert rules["age"].hint == NumericBands(widths=(5, 10, 20, 50))
    assert rules["province"].hint == AdminLevel(table="province")
    assert plan.hierarchies["province"][0] == ["ha-noi", "Đồng bằng sông Hồng", "*"]
    assert rules["sex"].hint is None and rules["diagnosis"].classification == "sensitive"


def test_pseudonymised_identifiers_and_adult_hierarchies(adult_dir: Path) -> None:
    population = next(d for d in demo_datasets() if d.org == "bca-c06").listing["columns"]
    rules = {rule.name: rule for rule in plan_from_columns(population).rules}
    assert rules["citizen_id"].keep_as_pseudonym and not rules["full_name"].keep_as_pseudonym
    adult = plan_from_columns(adult_listing(adult_dir)["columns"])
    assert {r.name for r in adult.rules if isinstance(r.hint, HierarchyTable)} == set(
        adult.hierarchies
    )
    assert adult.hierarchies["sex"][0][0] in ("Male", "Female")


@pytest.mark.parametrize(
    "hint",
    [
        {"kind": "numeric_bands"},
        {"kind": "numeric_bands", "widths": [10, 5]},
        {"kind": "hierarchy", "table": []},
        {"kind": "fuzz"},
    ],
)
def test_a_bad_hint_fails_the_build_naming_the_column(hint: dict[str, object]) -> None:
    column = {"name": "age", "type": "integer", "classification": "quasi_identifier", "hint": hint}
    with pytest.raises(AnonymisationFailed, match="'age'") as failure:
        plan_from_columns([column])
    assert failure.value.reason == "invalid_rules"
