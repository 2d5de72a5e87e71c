"""Tables of the pricing database: policy versions, known listings, valuations, quotes.

Times are stored as UTC; SQLite hands them back naive, so readers use ``aware``.
Table names carry a ``pricing_`` prefix because every service's tables share one
SQLModel metadata when several services are imported into one process (tests).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """A stored time as timezone-aware UTC (SQLite returns naive datetimes)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _time(*, index: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False, index=index)


class PolicyVersionRow(SQLModel, table=True):
    """One activated policy version: its YAML text exactly as the operator sent it."""

    __tablename__ = "pricing_policies"

    version: str = Field(primary_key=True, max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    effective_from: datetime = Field(sa_column=_time(index=True))
    activated_at: datetime = Field(sa_column=_time())
    activated_by: str = Field(max_length=200)


class KnownListingRow(SQLModel, table=True):
    """The latest snapshot of a catalog listing, as far as pricing needs it."""

    __tablename__ = "pricing_listings"

    listing_id: str = Field(primary_key=True, max_length=64)
    org: str = Field(max_length=64)
    status: str = Field(max_length=16)
    theme: str = Field(max_length=40)
    provinces: str = Field(default="[]")
    update_frequency: str = Field(max_length=20)
    list_price: int | None = None
    products: str = Field(default="[]")
    snapshot_at: datetime = Field(sa_column=_time())


class ListingVersionRow(SQLModel, table=True):
    """The measured facts of one data version of a listing (immutable once seen)."""

    __tablename__ = "pricing_listing_versions"

    listing_id: str = Field(primary_key=True, max_length=64)
    version: int = Field(primary_key=True)
    row_count: int
    direct_identifier: int
    quasi_identifier: int
    sensitive: int
    attribute: int
    quality_score: str = Field(max_length=40)
    created_at: datetime = Field(sa_column=_time())


class ValuationRow(SQLModel, table=True):
    """The value of one listing version under one policy version, computed once."""

    __tablename__ = "pricing_valuations"
    __table_args__ = (
        UniqueConstraint("listing_id", "version", "policy_version", name="uq_pricing_valuation"),
    )

    id: int | None = Field(default=None, primary_key=True)
    listing_id: str = Field(index=True, max_length=64)
    version: int
    policy_version: str = Field(max_length=64)
    dataset_value: int
    reference_product: str = Field(max_length=20)
    reference_duration_days: int
    reference_total: int
    detail: str = Field(sa_column=Column(Text, nullable=False))
    valued_at: datetime = Field(sa_column=_time())


class QuoteRow(SQLModel, table=True):
    """An issued quote: the signed JSON document and the columns lookups need."""

    __tablename__ = "pricing_quotes"

    id: str = Field(primary_key=True, max_length=36)
    buyer_org: str = Field(index=True, max_length=64)
    listing_id: str = Field(index=True, max_length=64)
    listing_version: int
    policy_version: str = Field(max_length=64)
    total: int
    issued_at: datetime = Field(sa_column=_time())
    expires_at: datetime = Field(sa_column=_time())
    document: str = Field(sa_column=Column(Text, nullable=False))


class ListingTermsRow(SQLModel, table=True):
    """A listing's usage terms pricing checks a quote against (newest snapshot wins).

    A table of its own rather than columns of ``pricing_listings``, so that a database
    created before purposes existed needs no migration: a listing without a row allows
    every purpose, as the catalog's contract does by default.
    """

    __tablename__ = "pricing_listing_terms"

    listing_id: str = Field(primary_key=True, max_length=64)
    allowed_purposes: str = Field(default="[]")
    """JSON list of Purpose codes."""
    snapshot_at: datetime = Field(sa_column=_time())


class VerifiedOrganisationRow(SQLModel, table=True):
    """An organisation an operator verified in the catalog, and the segment it buys as."""

    __tablename__ = "pricing_verified_organisations"

    code: str = Field(primary_key=True, max_length=64)
    registered_name: str = Field(max_length=400)
    segment: str = Field(max_length=40)
    verified_by: str = Field(max_length=200)
    verified_at: datetime = Field(sa_column=_time())


PRICING_TABLES: list[Table] = [
    PolicyVersionRow.__table__,  # type: ignore[attr-defined]
    KnownListingRow.__table__,  # type: ignore[attr-defined]
    ListingVersionRow.__table__,  # type: ignore[attr-defined]
    ValuationRow.__table__,  # type: ignore[attr-defined]
    QuoteRow.__table__,  # type: ignore[attr-defined]
    ListingTermsRow.__table__,  # type: ignore[attr-defined]
    VerifiedOrganisationRow.__table__,  # type: ignore[attr-defined]
]
