"""Previews: profiles of the anonymised data, no count below k, no row, no identifier.

The Adult census set is published with its ARX hierarchies (as in
``test_grants``), extended by a 12-digit citizen id (a direct identifier kept as
a pseudonym in extracts), an hours-per-week attribute (a numeric column, so a
histogram) and a household attribute with a value only three people have (so a
masked count); the demo population registry adds Faker names and citizen ids.
"""

from __future__ import annotations

import csv
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from services.access import preview as previews
from services.access.adapters.terms_orm import PreviewRow
from services.access.handlers import AccessContext
from tests.integration.access.conftest import Exchange, write_population
from tests.integration.access.listings import announce
from vndx.demo_data import adult_listing

K = 5


def _buyer() -> dict[str, str]:
    return {"org": f"startup-{uuid.uuid4().hex[:6]}", "role": "buyer"}


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _counts(preview: dict[str, Any]) -> Iterator[int | str]:
    """Every count a preview shows, of every column."""
    for column in preview["columns"]:
        profile = column["profile"]
        if profile["kind"] == "categorical":
            yield from (t["count"] for t in profile["top"])
            yield profile["other"]
            yield profile["nulls"]
        elif profile["kind"] == "histogram":
            yield from (b["count"] for b in profile["bins"])
            yield profile["values"]
            yield profile["nulls"]


@pytest.fixture(scope="module")
def adult_with_ids(exchange: Exchange, adult_dir: Path) -> tuple[str, Path]:
    rng = random.Random(12)
    raw = exchange.tmp / "adult_with_ids.csv"
    with (
        (adult_dir / "adult.csv").open(encoding="utf-8") as source,
        raw.open("w", encoding="utf-8", newline="") as target,
    ):
        reader = csv.reader(source, delimiter=";")
        writer = csv.writer(target, delimiter=";")
        writer.writerow(["citizen_id", *next(reader), "hours_per_week", "household"])
        ids = rng.sample(range(10**11), 40_000)
        for line, (number, row) in enumerate(zip(ids, reader, strict=False)):
            household = "shared-with-lodgers" if line < 3 else rng.choice(("single", "family"))
            writer.writerow([f"0{number:011d}", *row, rng.randint(1, 99), household])
    columns = [
        {
            "name": "citizen_id",
            "type": "string",
            "classification": "direct_identifier",
            "keep_as_pseudonym": True,
        },
        *adult_listing(adult_dir)["columns"],
        {"name": "hours_per_week", "type": "integer", "classification": "attribute"},
        {"name": "household", "type": "string", "classification": "attribute"},
    ]
    return announce(exchange, "gso", columns, raw).listing_id, raw


def _preview(exchange: Exchange, listing_id: str, **params: Any) -> Any:
    return exchange.client.get(
        f"/v1/listings/{listing_id}/preview",
        params=params,
        headers=exchange.auth(_buyer()["org"]),
    )


def test_the_adult_preview_shows_no_count_below_k_no_row_and_no_identifier(
    exchange: Exchange, adult_with_ids: tuple[str, Path]
) -> None:
    listing_id, raw = adult_with_ids
    response = _preview(exchange, listing_id, synthetic_rows=20)
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["row_count"] == 30_162 and preview["k"] == K
    assert 0.95 * 30_162 <= preview["released_rows"] <= 30_162
    assert preview["privacy"]["k"] >= K and preview["privacy"]["l_diversity"] >= 2

    by_name = {c["name"]: c for c in preview["columns"]}
    assert list(by_name)[:2] == ["citizen_id", "sex"] and len(by_name) == 12
    assert by_name["citizen_id"]["classification"] == "direct_identifier"
    assert by_name["citizen_id"]["profile"]["kind"] == "withheld"
    assert by_name["salary-class"]["classification"] == "sensitive"
    assert by_name["age"]["released_as"] == "generalised"

    counts = list(_counts(preview))
    assert counts and all(c == 0 or c >= K for c in counts if isinstance(c, int))
    assert {c for c in counts if isinstance(c, str)} <= {f"<{K}"}
    household = by_name["household"]["profile"]["top"]
    assert {"value": "shared-with-lodgers", "count": f"<{K}"} in household

    hours = by_name["hours_per_week"]["profile"]
    assert hours["kind"] == "histogram" and len(hours["bins"]) >= 5
    assert all(b["count"] >= K for b in hours["bins"])
    assert sum(b["count"] for b in hours["bins"]) == hours["values"] == preview["released_rows"]
    assert all(a["to"] <= b["from"] for a, b in zip(hours["bins"], hours["bins"][1:], strict=False))

    with raw.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    citizen_ids = {r["citizen_id"] for r in rows}
    leaves = {str(leaf) for leaf in _leaves(preview)}
    assert not leaves & citizen_ids
    assert not any(citizen_id in response.text for citizen_id in citizen_ids)

    synthetic = preview["synthetic_rows"]
    assert len(synthetic) == 20 and all(r["synthetic"] is True for r in synthetic)
    released = [c for c in by_name if c != "citizen_id"]
    raw_rows = {tuple(r[c] for c in released) for r in rows}
    for row in synthetic:
        assert set(row["values"]) == set(released)
        assert tuple(str(row["values"][c]) for c in released) not in raw_rows


def test_the_preview_never_shows_a_name_or_citizen_id_of_the_registry(
    exchange: Exchange,
) -> None:
    raw, columns = write_population(exchange.tmp / "population-preview.csv", 1_500, seed=5)
    listing_id = announce(exchange, "bca-c06", columns, raw).listing_id
    response = _preview(exchange, listing_id, synthetic_rows=20)
    assert response.status_code == 200, response.text
    preview = response.json()
    with raw.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for identifier in ("full_name", "citizen_id"):
        column = next(c for c in preview["columns"] if c["name"] == identifier)
        assert column["profile"]["kind"] == "withheld"
        assert not any(r[identifier] in response.text for r in rows)
    income = next(c for c in preview["columns"] if c["name"] == "monthly_income")["profile"]
    assert income["kind"] == "histogram" and all(b["count"] >= K for b in income["bins"])
    counts = list(_counts(preview))
    assert all(c == 0 or c >= K for c in counts if isinstance(c, int))
    assert all("full_name" not in r["values"] for r in preview["synthetic_rows"])


def test_the_preview_is_computed_once_per_version(
    exchange: Exchange, adult_with_ids: tuple[str, Path]
) -> None:
    listing_id, _ = adult_with_ids
    first, second = (_preview(exchange, listing_id).json() for _ in range(2))
    assert first["computed_at"] == second["computed_at"]
    assert first["synthetic_rows"] == []  # only when asked for
    ctx: AccessContext = exchange.client.app.state.access  # type: ignore[attr-defined]
    with Session(ctx.engine) as session:
        cached = session.get(PreviewRow, (listing_id, 1))
    assert cached is not None and cached.k == K and cached.error is None


def test_unknown_unpublished_or_anonymous_previews_are_refused(
    exchange: Exchange, tmp_path: Path
) -> None:
    raw, columns = write_population(tmp_path / "draft.csv", 50, seed=3)
    draft = announce(exchange, "bca-c06", columns, raw, status="draft").listing_id
    for listing_id in (str(uuid.uuid4()), "not-a-uuid", draft):
        refused = _preview(exchange, listing_id)
        assert refused.status_code == 404, (listing_id, refused.text)
        assert refused.json()["error"]["message"] == "listing not found"
    assert exchange.client.get(f"/v1/listings/{draft}/preview").status_code == 401
    too_many = _preview(exchange, draft, synthetic_rows=21)
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "synthetic_rows"


def test_a_listing_whose_targets_cannot_be_met_has_no_preview(
    exchange: Exchange, tmp_path: Path
) -> None:
    raw = tmp_path / "one_value.csv"  # a single sensitive value: ℓ=2 is out of reach
    raw.write_text("code,value\n" + "".join(f"C{n},7\n" for n in range(200)), "utf-8")
    listing_id = announce(
        exchange,
        "gso",
        [
            {"name": "code", "type": "string", "classification": "quasi_identifier"},
            {"name": "value", "type": "integer", "classification": "sensitive"},
        ],
        raw,
    ).listing_id
    for _ in range(2):  # the second answer comes from the cache
        refused = _preview(exchange, listing_id)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "preview_unavailable"
        assert "C1" not in refused.text


def test_a_preview_not_ready_in_time_is_pending_and_then_served(
    exchange: Exchange, tmp_path: Path
) -> None:
    raw, columns = write_population(tmp_path / "pending.csv", 3_000, seed=8)
    listing_id = announce(exchange, "bca-c06", columns, raw).listing_id
    ctx: AccessContext = exchange.client.app.state.access  # type: ignore[attr-defined]
    with pytest.raises(previews.PreviewPending) as pending:
        previews.get_preview(ctx, listing_id, wait_s=0.0)
    assert pending.value.retry_after_s > 0
    deadline = time.monotonic() + 120
    while (answer := _preview(exchange, listing_id)).status_code == 409:
        assert answer.json()["error"]["code"] == "preview_pending"
        assert int(answer.headers["Retry-After"]) > 0
        assert time.monotonic() < deadline, "the preview was never computed"
        time.sleep(0.5)
    assert answer.status_code == 200, answer.text
    assert answer.json()["row_count"] == 3_000
