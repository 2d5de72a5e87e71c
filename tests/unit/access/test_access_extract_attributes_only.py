"""A listing whose columns are all plain attributes: nothing to generalise, all rows released.

The reliability suite's small listing (year, indicator, value, all ``attribute``) once
failed every build with "0 rows read back": the read-back check grouped by no column
and counted a table of no columns as empty.
"""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pyarrow.parquet as pq

from services.access.anonymisation import build_extract
from services.access.domain import PrivacyTargets, derive_grant_key
from services.access.domain.listing_rules import plan_from_columns

ATTRIBUTE = {"type": "string", "classification": "attribute"}


def test_every_row_is_released_and_verified(tmp_path: Path) -> None:
    source = tmp_path / "figures.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["year", "indicator", "value"])
        for index in range(200):
            writer.writerow([2015 + index % 10, ("Dân số", "Lao động")[index % 2], index])
    plan = plan_from_columns(
        [
            {**ATTRIBUTE, "name": "year", "type": "integer"},
            {**ATTRIBUTE, "name": "indicator"},
            {**ATTRIBUTE, "name": "value", "type": "integer"},
        ]
    )
    result = build_extract(
        source,
        "csv",
        plan.rules,
        PrivacyTargets(k=5, l=2, max_suppression=0.05),
        derive_grant_key(b"k" * 32, str(uuid.uuid4())),
        tmp_path / "out",
        plan.hierarchies,
    )
    assert result.rows_out == 200
    assert result.figures.suppression_share == 0
    assert pq.read_metadata(result.parquet_path).num_rows == 200
