"""Events of the catalog: a listing's life, each carrying the listing's public facts.

Every event carries the whole public snapshot (event-carried state transfer), so a
consumer such as pricing never has to call the catalog back to act on it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from services.contracts.envelope import EventPayload, register
from services.contracts.topics import CATALOG_LISTINGS, CATALOG_ORGANISATIONS

Classification = Literal["direct_identifier", "quasi_identifier", "sensitive", "attribute"]
Product = Literal["download", "sandbox"]
#: The controlled list of purposes a listing may allow and a buyer must declare.
Purpose = Literal[
    "research",
    "statistics",
    "public_service",
    "product_development",
    "commercial_analytics",
    "journalism",
    "education",
]
ALL_PURPOSES: tuple[Purpose, ...] = (
    "research",
    "statistics",
    "public_service",
    "product_development",
    "commercial_analytics",
    "journalism",
    "education",
)
#: ``automatic``: a paid order is fulfilled at once; ``provider``: the publisher decides first.
ApprovalMode = Literal["automatic", "provider"]


class ColumnFacts(BaseModel):
    """One column of a listing's schema, as the public sees it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: str
    classification: Classification
    hint: dict[str, object] | None = None
    keep_as_pseudonym: bool = False


class VersionFacts(BaseModel):
    """Measured facts of one immutable data version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    format: Literal["csv", "parquet"]
    object_key: str
    size_bytes: int
    sha256: str
    row_count: int
    quality_score: float
    created_at: AwareDatetime


class ListingSnapshot(BaseModel):
    """The public state of a listing at the moment of an event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    listing_id: str
    org: str
    status: Literal["draft", "published", "retired"]
    title_vi: str
    title_en: str
    theme: str
    provinces: list[str]
    update_frequency: str
    products: list[Product]
    list_price: int | None
    columns: list[ColumnFacts]
    latest_version: VersionFacts | None
    allowed_purposes: list[Purpose] = list(ALL_PURPOSES)
    approval: ApprovalMode = "automatic"
    #: Raises the policy's k for this listing's extracts (never lowers it).
    min_k: int | None = None
    #: Smallest group a sandbox aggregate may report (the usage policy's limit); None: k.
    min_group_size: int | None = None
    #: Whether a buyer may end its grant early against a pro-rata refund.
    buyer_may_terminate: bool = True


class _ListingEvent(EventPayload):
    topic = CATALOG_LISTINGS

    listing: ListingSnapshot

    def aggregate_id(self) -> str:
        return self.listing.listing_id


@register
class ListingPublished(_ListingEvent):
    """A listing became visible to buyers."""

    event_type = "vn.vndx.catalog.listing.published.v1"


@register
class ListingUpdated(_ListingEvent):
    """A listing's metadata changed."""

    event_type = "vn.vndx.catalog.listing.updated.v1"


@register
class ListingVersionAdded(_ListingEvent):
    """A new data version was uploaded and measured."""

    event_type = "vn.vndx.catalog.listing.version_added.v1"


@register
class ListingRetired(_ListingEvent):
    """A listing was withdrawn; no new quotes may be issued for it."""

    event_type = "vn.vndx.catalog.listing.retired.v1"


class InspectionFinding(BaseModel):
    """A kind of personal data found in a column (share of sampled non-empty values)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str
    pattern: str
    share: float


@register
class ListingInspected(EventPayload):
    """A version was scanned for personal data; ``passed`` is false on any finding."""

    event_type = "vn.vndx.catalog.listing.inspected.v1"
    topic = CATALOG_LISTINGS

    listing_id: str
    org: str
    version: int
    passed: bool
    rows_sampled: int
    findings: list[InspectionFinding]

    def aggregate_id(self) -> str:
        return self.listing_id


@register
class ListingReviewed(EventPayload):
    """An operator approved or rejected a version with sensitive columns."""

    event_type = "vn.vndx.catalog.listing.reviewed.v1"
    topic = CATALOG_LISTINGS

    listing_id: str
    org: str
    version: int
    decision: Literal["approve", "reject"]
    note: str
    by_org: str

    def aggregate_id(self) -> str:
        return self.listing_id


Segment = Literal["startup", "sme", "research_education", "public_interest", "foreign", "standard"]


@register
class OrganisationVerified(EventPayload):
    """An operator checked an organisation's registration and the segment it buys as.

    Pricing applies a segment's discount only to an organisation verified in it.
    """

    event_type = "vn.vndx.catalog.organisation.verified.v1"
    topic = CATALOG_ORGANISATIONS

    code: str
    registered_name: str
    segment: Segment
    verified_by: str
    verified_at: AwareDatetime

    def aggregate_id(self) -> str:
        return self.code
