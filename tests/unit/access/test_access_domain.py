"""Column rules, privacy targets and pseudonym keys of the access domain."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.access.domain import (
    AnonymisationFailed,
    ColumnRule,
    NumericBands,
    PrivacyTargets,
    derive_grant_key,
    pseudonym_of,
    validate_column_rules,
)


def test_rules_parse_from_listing_json() -> None:
    rule = ColumnRule.model_validate(
        {
            "name": "age",
            "classification": "quasi_identifier",
            "type": "integer",
            "hint": {"kind": "numeric_bands", "widths": [5, 10, 20, 50]},
        }
    )

    assert rule.hint == NumericBands(widths=(5, 10, 20, 50))


@pytest.mark.parametrize(
    "rule",
    [
        {"name": "age", "classification": "sensitive", "hint": {"kind": "suppress"}},
        {"name": "age", "classification": "attribute", "keep_as_pseudonym": True},
        {
            "name": "age",
            "classification": "quasi_identifier",
            "hint": {"kind": "numeric_bands", "widths": [10, 5]},
        },
        {
            "name": "born",
            "classification": "quasi_identifier",
            "hint": {"kind": "date_truncation", "units": ["year", "month"]},
        },
    ],
)
def test_inconsistent_rules_are_rejected(rule: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ColumnRule.model_validate(rule)


@pytest.mark.parametrize(
    "targets", [{"k": 0}, {"l": 0}, {"max_suppression": 1.0}, {"max_suppression": -0.1}]
)
def test_impossible_target_values_are_rejected(targets: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PrivacyTargets.model_validate(targets)


def test_every_column_needs_exactly_one_rule() -> None:
    rules = [ColumnRule(name="a", classification="attribute")]

    validate_column_rules(rules, ["a"])
    with pytest.raises(AnonymisationFailed, match="without a classification"):
        validate_column_rules(rules, ["a", "b"])
    with pytest.raises(AnonymisationFailed, match="not in the data"):
        validate_column_rules([*rules, ColumnRule(name="z", classification="attribute")], ["a"])
    with pytest.raises(AnonymisationFailed, match="twice"):
        validate_column_rules(rules * 2, ["a"])


def test_grant_keys_differ_per_grant_and_are_reproducible() -> None:
    master = b"m" * 32
    a = "6f1c7e5e-8d1a-4c55-9a4e-1d2b3c4d5e6f"

    assert derive_grant_key(master, a) == derive_grant_key(master, a.upper())
    assert derive_grant_key(master, a) != derive_grant_key(
        master, "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d"
    )
    assert derive_grant_key(master, a) != derive_grant_key(b"n" * 32, a)
    assert len(pseudonym_of(derive_grant_key(master, a), "079012345678")) == 32


def test_a_short_master_key_is_refused() -> None:
    with pytest.raises(ValueError):
        derive_grant_key(b"short", "6f1c7e5e-8d1a-4c55-9a4e-1d2b3c4d5e6f")
