"""Identifiers, pseudonyms, unique records and failures of an extract build."""

from __future__ import annotations

import csv
from pathlib import Path
from uuid import UUID

import pyarrow.parquet as pq
import pytest

from services.access.anonymisation import ExtractResult, build_extract, writer
from services.access.domain import (
    AnonymisationFailed,
    ColumnRule,
    PrivacyTargets,
    derive_grant_key,
    pseudonym_of,
)

MASTER_KEY = b"test-master-key-of-the-exchange!"
GRANT_A = UUID("6f1c7e5e-8d1a-4c55-9a4e-1d2b3c4d5e6f")
GRANT_B = UUID("0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d")
TARGETS = PrivacyTargets(k=5, l=2, max_suppression=0.05)


def build(
    source: Path, rules: list[ColumnRule], out: Path, grant: UUID = GRANT_A, **targets: float
) -> ExtractResult:
    return build_extract(
        source,
        "csv",
        rules,
        TARGETS.model_copy(update=targets),
        derive_grant_key(MASTER_KEY, grant),
        out,
    )


def test_the_unique_95_year_old_never_appears_unmodified(
    citizens_csv: Path, citizen_rules: list[ColumnRule], tmp_path: Path
) -> None:
    result = build(citizens_csv, citizen_rules, tmp_path / "out")
    rows = pq.read_table(result.parquet_path).to_pylist()

    assert not any(row["age"] in (95, "95") for row in rows)
    assert not any(row["town"] == "Mường Tè" for row in rows)
    assert not any(row["diagnosis"] == "dementia" and row["age"] != "*" for row in rows)
    assert "Mường Tè" not in result.csv_path.read_text(encoding="utf-8")


def test_direct_identifiers_never_appear_in_the_extract(
    citizens_csv: Path, citizen_rules: list[ColumnRule], tmp_path: Path
) -> None:
    result = build(citizens_csv, citizen_rules, tmp_path / "out")
    released = result.csv_path.read_text(encoding="utf-8") + str(
        pq.read_table(result.parquet_path).to_pylist()
    )

    assert pq.read_schema(result.parquet_path).names == ["national_id", "age", "town", "diagnosis"]
    for n in (0, 7, 150, 299):
        assert f"0790{n:08d}" not in released
        assert f"Người Số {n}," not in released
        assert f"0912{n:06d}" not in released


def test_pseudonyms_are_stable_within_a_grant_and_differ_between_grants(
    citizens_csv: Path, citizen_rules: list[ColumnRule], tmp_path: Path
) -> None:
    first = build(citizens_csv, citizen_rules, tmp_path / "a1", GRANT_A)
    again = build(citizens_csv, citizen_rules, tmp_path / "a2", GRANT_A)
    other = build(citizens_csv, citizen_rules, tmp_path / "b", GRANT_B)
    ids = [
        pq.read_table(r.parquet_path).column("national_id").to_pylist()
        for r in (first, again, other)
    ]

    assert ids[0] == ids[1]
    assert len(set(ids[0])) == len(ids[0])
    assert not set(ids[0]) & set(ids[2])
    assert ids[0][0] == pseudonym_of(derive_grant_key(MASTER_KEY, GRANT_A), "079000000000")
    assert ids[2][0] == pseudonym_of(derive_grant_key(MASTER_KEY, GRANT_B), "079000000000")


def test_each_released_row_keeps_its_own_pseudonym_whatever_the_batch_sizes(
    citizens_csv: Path,
    citizen_rules: list[ColumnRule],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pseudonyms are hashed in a pass of their own; the writing pass, in batches of
    # 7 rows here, must take each row's own pseudonym, not a neighbour's.
    monkeypatch.setattr(writer, "BATCH_ROWS", 7)
    result = build(citizens_csv, citizen_rules, tmp_path / "out", GRANT_A)
    key = derive_grant_key(MASTER_KEY, GRANT_A)
    source = {
        pseudonym_of(key, row["national_id"]): row
        for row in csv.DictReader(citizens_csv.open(encoding="utf-8"))
    }
    released = pq.read_table(result.parquet_path).to_pylist()

    assert len(released) == result.rows_out > 250
    for row in released:
        original = source[row["national_id"]]
        assert row["diagnosis"] == original["diagnosis"]
        assert row["town"] in (original["town"], "*")
        low, _, high = str(row["age"]).partition("-")
        age = int(original["age"])
        assert row["age"] in ("*", age) or int(low) <= age <= int(high or low)


def test_k_larger_than_the_data_fails_and_releases_nothing(
    citizens_csv: Path, citizen_rules: list[ColumnRule], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with pytest.raises(AnonymisationFailed) as failure:
        build(citizens_csv, citizen_rules, out, k=1000)

    assert failure.value.reason == "targets_unreachable"
    assert "1000" in failure.value.detail
    assert not list(out.rglob("*.parquet")) and not list(out.rglob("*.csv"))


def test_l_beyond_the_distinct_sensitive_values_fails(
    citizens_csv: Path, citizen_rules: list[ColumnRule], tmp_path: Path
) -> None:
    with pytest.raises(AnonymisationFailed) as failure:
        build(citizens_csv, citizen_rules, tmp_path / "out", l=5)

    assert failure.value.reason == "targets_unreachable"


def test_a_column_without_a_rule_is_refused(
    citizens_csv: Path, citizen_rules: list[ColumnRule], tmp_path: Path
) -> None:
    without_phone = [r for r in citizen_rules if r.name != "phone"]

    with pytest.raises(AnonymisationFailed) as failure:
        build(citizens_csv, without_phone, tmp_path / "out")

    assert failure.value.reason == "invalid_rules"
    assert "phone" in failure.value.detail


def test_a_hierarchy_the_build_was_not_given_is_refused(
    citizens_csv: Path, citizen_rules: list[ColumnRule], tmp_path: Path
) -> None:
    from services.access.domain import HierarchyTable

    rules = [
        r.model_copy(update={"hint": HierarchyTable()}) if r.name == "town" else r
        for r in citizen_rules
    ]
    with pytest.raises(AnonymisationFailed) as failure:
        build(citizens_csv, rules, tmp_path / "out")

    assert failure.value.reason == "invalid_rules"


def test_progress_reports_every_stage_in_order(
    citizens_csv: Path, citizen_rules: list[ColumnRule], tmp_path: Path
) -> None:
    seen: list[tuple[str, float]] = []
    build_extract(
        citizens_csv,
        "csv",
        citizen_rules,
        TARGETS,
        derive_grant_key(MASTER_KEY, GRANT_A),
        tmp_path / "out",
        progress=lambda stage, fraction: seen.append((stage, fraction)),
    )
    stages = list(dict.fromkeys(stage for stage, _ in seen))

    assert stages == ["profile", "search", "write", "verify"]
    assert seen[-1] == ("verify", 1.0)
