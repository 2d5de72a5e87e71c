"""Request and response bodies of the catalog API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.catalog.domain.model import (
    Column,
    ColumnStats,
    InspectionFacts,
    Listing,
    ListingMetadata,
    TemporalCoverage,
)
from services.catalog.domain.reference import PROVINCES, PURPOSES, THEMES
from services.contracts.catalog import ApprovalMode, Purpose


class ListingIn(ListingMetadata):
    """A listing's metadata and its column schema, as a provider sends them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: list[Column] = Field(min_length=1, max_length=500)


class ListingUpdateIn(ListingMetadata):
    """New metadata; ``columns`` may change only while no data is uploaded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: list[Column] | None = Field(default=None, min_length=1, max_length=500)


class VerificationIn(BaseModel):
    """What an operator checked about an organisation."""

    model_config = ConfigDict(extra="forbid")

    tax_code: str = Field(min_length=10, max_length=14)
    registered_name: str = Field(min_length=1, max_length=300)
    segment: str = Field(max_length=40)


class OrganisationOut(BaseModel):
    code: str
    name: str
    verified: bool
    segment: str | None
    registered_name: str | None
    tax_code: str | None
    verified_at: AwareDatetime | None


class ReviewIn(BaseModel):
    """An operator's decision on a listing's latest version."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    note: str = Field(default="", max_length=2_000)


class PendingReview(BaseModel):
    """A listing version an operator must decide on, with what the inspection found."""

    listing_id: str
    org: str
    title_vi: str
    title_en: str
    status: str
    version: int
    sensitive_columns: list[str]
    inspection: InspectionFacts | None

    @classmethod
    def of(cls, listing: Listing) -> PendingReview:
        latest = listing.latest_version
        assert latest is not None
        return cls(
            listing_id=listing.id,
            org=listing.org,
            title_vi=listing.metadata.title_vi,
            title_en=listing.metadata.title_en,
            status=listing.status,
            version=latest.version,
            sensitive_columns=[
                c.name for c in listing.schema_.columns if c.classification == "sensitive"
            ],
            inspection=latest.inspection,
        )


class VersionOut(BaseModel):
    """A version's measured facts (never where the raw file lives)."""

    version: int
    format: str
    size_bytes: int
    sha256: str
    row_count: int
    columns: list[ColumnStats]
    completeness: float
    validity: float
    freshness: float
    quality_score: float
    created_at: AwareDatetime
    inspection_passed: bool | None = None


class ListingOut(BaseModel):
    """The public view of a listing."""

    id: str
    org: str
    status: str
    title_vi: str
    title_en: str
    description_vi: str
    description_en: str
    keywords: list[str]
    theme: str
    theme_label: dict[str, str]
    provinces: list[str]
    temporal: TemporalCoverage | None
    update_frequency: str
    licence: str
    products: list[str]
    list_price: int | None
    allowed_purposes: list[Purpose]
    approval: ApprovalMode
    min_k: int | None
    min_group_size: int | None
    buyer_may_terminate: bool
    columns: list[Column]
    versions: list[VersionOut]
    latest_version: int | None
    #: The version buyers get: the newest one inspected clean and, if needed, approved.
    released_version: int | None
    row_count: int | None
    quality_score: float | None
    review_status: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    published_at: AwareDatetime | None

    @classmethod
    def of(cls, listing: Listing) -> ListingOut:
        meta = listing.metadata
        vi, en = THEMES[meta.theme]
        latest = listing.latest_version
        released = listing.released_version()
        return cls(
            id=listing.id,
            org=listing.org,
            status=listing.status,
            title_vi=meta.title_vi,
            title_en=meta.title_en,
            description_vi=meta.description_vi,
            description_en=meta.description_en,
            keywords=list(meta.keywords),
            theme=meta.theme,
            theme_label={"vi": vi, "en": en},
            provinces=list(meta.provinces),
            temporal=meta.temporal,
            update_frequency=meta.update_frequency,
            licence=meta.licence,
            products=list(meta.products),
            list_price=meta.list_price,
            allowed_purposes=list(meta.allowed_purposes),
            approval=meta.approval,
            min_k=meta.min_k,
            min_group_size=meta.min_group_size,
            buyer_may_terminate=meta.buyer_may_terminate,
            columns=list(listing.schema_.columns),
            versions=[
                VersionOut.model_validate(
                    {
                        **v.model_dump(exclude={"inspection", "object_key"}),
                        "inspection_passed": None
                        if v.inspection is None
                        else not v.inspection.findings,
                    }
                )
                for v in listing.versions
            ],
            latest_version=latest.version if latest else None,
            released_version=released.version if released else None,
            row_count=latest.row_count if latest else None,
            quality_score=latest.quality_score if latest else None,
            review_status=listing.review_status(),
            created_at=listing.created_at,
            updated_at=listing.updated_at,
            published_at=listing.published_at,
        )


class ListingPage(BaseModel):
    items: list[ListingOut]
    page: int
    page_size: int
    total: int


class Vocabulary(BaseModel):
    themes: dict[str, dict[str, str]]
    provinces: dict[str, str]
    purposes: dict[str, dict[str, str]]

    @classmethod
    def current(cls) -> Vocabulary:
        return cls(
            themes={code: {"vi": vi, "en": en} for code, (vi, en) in THEMES.items()},
            provinces=dict(PROVINCES),
            purposes={code: {"vi": vi, "en": en} for code, (vi, en) in PURPOSES.items()},
        )


JsonLd = dict[str, Any]
