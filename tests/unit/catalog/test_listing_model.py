"""The listing aggregate's rules, with nothing running."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.catalog.domain.errors import InspectionBlocked, InvalidTransition
from services.catalog.domain.model import (
    Column,
    FindingFacts,
    InspectionFacts,
    Listing,
    ListingMetadata,
    Schema,
    VersionFacts,
)
from services.catalog.domain.quality import freshness, quality_score
from services.catalog.domain.search_text import fold, tokens


def _listing(*classes: str) -> Listing:
    columns = [
        Column(name=f"c{i}", type="string", classification=c)  # type: ignore[arg-type]
        for i, c in enumerate(classes)
    ]
    return Listing(
        org="gso",
        metadata=ListingMetadata(title_vi="Dân cư", title_en="Population", theme="population"),
        schema=Schema(columns=columns),
    )


def _version(number: int = 1, findings: list[FindingFacts] | None = None) -> VersionFacts:
    now = datetime.now(UTC)
    return VersionFacts(
        version=number,
        format="csv",
        object_key=f"raw/gso/x/{number}/data.csv",
        size_bytes=10,
        sha256="0" * 64,
        row_count=2,
        columns=[],
        completeness=1.0,
        validity=1.0,
        freshness=1.0,
        quality_score=1.0,
        created_at=now,
        inspection=InspectionFacts(
            findings=findings or [],
            columns_scanned=[],
            rows_sampled=2,
            threshold=0.2,
            inspected_at=now,
        ),
    )


def test_publish_needs_a_version_and_retired_is_final() -> None:
    listing = _listing("attribute")
    with pytest.raises(InvalidTransition, match="upload"):
        listing.publish()
    listing.add_version(_version())
    listing.publish()
    assert listing.status == "published" and listing.published_at is not None
    with pytest.raises(InvalidTransition, match="already published"):
        listing.publish()
    listing.retire()
    with pytest.raises(InvalidTransition):
        listing.publish()
    with pytest.raises(InvalidTransition):
        listing.add_version(_version(2))


def test_versions_are_numbered_in_order() -> None:
    listing = _listing("attribute")
    with pytest.raises(InvalidTransition, match="not the next"):
        listing.add_version(_version(2))
    listing.add_version(_version(1))
    listing.add_version(_version(2))
    assert [v.version for v in listing.versions] == [1, 2]


def test_findings_block_until_the_column_is_a_direct_identifier() -> None:
    finding = FindingFacts(
        column="c1", pattern="phone", share=0.9, matched=9, non_empty=10, examples=["09****1234"]
    )
    listing = _listing("attribute", "attribute")
    listing.add_version(_version(findings=[finding]))
    with pytest.raises(InspectionBlocked) as blocked:
        listing.publish()
    assert blocked.value.field == "c1"
    reclassified = Schema(
        columns=[
            Column(name="c0", type="string", classification="attribute"),
            Column(name="c1", type="string", classification="direct_identifier"),
        ]
    )
    listing.update(listing.metadata, reclassified)
    listing.publish()


def test_columns_cannot_be_renamed_after_upload() -> None:
    listing = _listing("attribute")
    listing.add_version(_version())
    renamed = Schema(columns=[Column(name="other", type="string", classification="attribute")])
    with pytest.raises(InvalidTransition, match="fixed"):
        listing.update(listing.metadata, renamed)


def test_sensitive_listings_need_an_approved_review() -> None:
    listing = _listing("sensitive")
    listing.add_version(_version())
    assert listing.review_status() == "pending"
    with pytest.raises(InvalidTransition, match="pending"):
        listing.publish()
    listing.review("reject", "too detailed", "ops")
    assert listing.review_status() == "rejected"
    listing.review("approve", "coarsened", "ops")
    listing.publish()
    listing2 = _listing("attribute")
    listing2.add_version(_version())
    with pytest.raises(InvalidTransition, match="no review"):
        listing2.review("approve", "", "ops")


@pytest.mark.parametrize(
    ("field", "value"),
    [("theme", "astrology"), ("provinces", ["atlantis"]), ("update_frequency", "hourly")],
)
def test_vocabularies_are_enforced(field: str, value: object) -> None:
    base = {"title_vi": "a", "title_en": "a", "theme": "land"}
    with pytest.raises(ValidationError, match=field):
        ListingMetadata.model_validate({**base, field: value})


def test_hints_only_on_quasi_identifiers_and_well_formed() -> None:
    with pytest.raises(ValidationError, match="only allowed"):
        Column(
            name="a",
            type="integer",
            classification="attribute",
            hint={"kind": "numeric_bands", "widths": [5]},
        )  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="increase"):
        Column(
            name="a",
            type="integer",
            classification="quasi_identifier",
            hint={"kind": "numeric_bands", "widths": [10, 5]},
        )  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="cells"):
        Column(
            name="a",
            type="string",
            classification="quasi_identifier",
            hint={"kind": "hierarchy", "table": [["a", "*"], ["b"]]},
        )  # type: ignore[arg-type]


def test_folding_meets_accented_and_plain_text() -> None:
    assert fold("Điều tra DÂN SỐ") == "dieu tra dan so"
    assert tokens("dân cư, Đà Nẵng!") == ["dan", "cu", "da", "nang"]


def test_quality_weights_and_freshness_decay() -> None:
    today = datetime(2026, 1, 31, tzinfo=UTC).date()
    assert freshness("monthly", today, today) == 1.0
    assert freshness("monthly", datetime(2025, 11, 30, tzinfo=UTC).date(), today) < 1.0
    assert freshness("once", None, today) == 1.0
    assert quality_score(1.0, 1.0, 1.0) == 1.0
    assert quality_score(0.5, 1.0, 1.0) == 0.8


def test_a_new_version_with_findings_is_not_released_to_buyers() -> None:
    finding = FindingFacts(
        column="c0", pattern="cccd", share=0.8, matched=8, non_empty=10, examples=["001****45"]
    )
    listing = _listing("attribute")
    listing.add_version(_version(1))
    listing.publish()
    listing.add_version(_version(2, findings=[finding]))
    released = listing.released_version()
    assert released is not None and released.version == 1
    declared = Schema(
        columns=[Column(name="c0", type="string", classification="direct_identifier")]
    )
    listing.update(listing.metadata, declared)
    released = listing.released_version()
    assert released is not None and released.version == 2


def test_a_new_version_of_a_sensitive_listing_waits_for_its_review() -> None:
    listing = _listing("sensitive")
    listing.add_version(_version(1))
    assert listing.released_version() is None
    listing.review("approve", "ok", "ops")
    listing.publish()
    listing.add_version(_version(2))
    assert [listing.released_version().version] == [1]  # type: ignore[union-attr]
    listing.review("reject", "too fine", "ops")
    assert [listing.released_version().version] == [1]  # type: ignore[union-attr]
    listing.review("approve", "coarsened", "ops")
    assert [listing.released_version().version] == [2]  # type: ignore[union-attr]
