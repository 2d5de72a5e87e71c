"""Tables of the catalog database and the mapping to the listing aggregate."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Table
from sqlmodel import Field, Session, SQLModel, col, select

from services.catalog.domain.model import Listing
from services.catalog.domain.search_text import fold
from services.contracts.catalog import ALL_PURPOSES

#: The stored form of the default ``allowed_purposes`` (every purpose, controlled order).
ALL_PURPOSES_JSON = json.dumps(list(ALL_PURPOSES))


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OrganisationRow(SQLModel, table=True):
    """An organisation known to the exchange (agency, buyer, regulator, operator)."""

    __tablename__ = "organisations"

    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=_utcnow)
    deleted_at: datetime | None = None
    tax_code: str | None = Field(default=None, max_length=20)
    registered_name: str | None = Field(default=None, max_length=300)
    segment: str | None = Field(default=None, max_length=40)
    verified_at: datetime | None = None
    verified_by: str | None = Field(default=None, max_length=64)


class ListingRow(SQLModel, table=True):
    """A listing stored as its aggregate document plus the columns search filters on."""

    __tablename__ = "listings"

    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=64)
    status: str = Field(index=True, max_length=16)
    theme: str = Field(index=True, max_length=40)
    provinces: str = Field(default="[]")
    products: str = Field(default="[]")
    # Usage terms search filters on (the document holds them too); added by
    # ``migrations.upgrade`` to tables created before them, with these defaults.
    allowed_purposes: str = Field(default=ALL_PURPOSES_JSON)
    approval: str = Field(default="automatic", max_length=16)
    search_title: str = ""
    search_body: str = ""
    document: str
    created_at: datetime = Field(default_factory=_utcnow)
    updated_at: datetime = Field(default_factory=_utcnow, index=True)


CATALOG_TABLES: list[Table] = [OrganisationRow.__table__, ListingRow.__table__]  # type: ignore[attr-defined]


def to_row(listing: Listing, row: ListingRow | None = None) -> ListingRow:
    meta = listing.metadata
    row = row or ListingRow(id=listing.id, org=listing.org, status="", theme="", document="")
    row.org = listing.org
    row.status = listing.status
    row.theme = meta.theme
    row.provinces = json.dumps(meta.provinces)
    row.products = json.dumps(list(meta.products))
    row.allowed_purposes = json.dumps(list(meta.allowed_purposes))
    row.approval = meta.approval
    row.search_title = fold(f"{meta.title_vi} {meta.title_en}")
    row.search_body = fold(
        " ".join([meta.description_vi, meta.description_en, " ".join(meta.keywords)])
    )
    row.document = listing.model_dump_json(by_alias=True)
    row.created_at = listing.created_at
    row.updated_at = listing.updated_at
    return row


def from_row(row: ListingRow) -> Listing:
    return Listing.model_validate_json(row.document)


class ListingRepository:
    """Loads and saves listings within one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, listing_id: str) -> Listing | None:
        row = self.session.get(ListingRow, listing_id)
        return from_row(row) if row else None

    def get_many(self, listing_ids: list[str]) -> list[Listing]:
        if not listing_ids:
            return []
        rows = self.session.exec(select(ListingRow).where(col(ListingRow.id).in_(listing_ids)))
        return [from_row(row) for row in rows.all()]

    def add(self, listing: Listing) -> None:
        self.session.add(to_row(listing))

    def save(self, listing: Listing) -> None:
        row = self.session.get(ListingRow, listing.id)
        self.session.add(to_row(listing, row))

    def list_for_org(self, org: str, offset: int, limit: int) -> list[Listing]:
        statement = (
            select(ListingRow)
            .where(ListingRow.org == org)
            .order_by(ListingRow.updated_at.desc())  # type: ignore[attr-defined]
            .offset(offset)
            .limit(limit)
        )
        return [from_row(row) for row in self.session.exec(statement).all()]

    def all_current(self) -> list[Listing]:
        """Drafts and published listings (not retired), oldest change first."""
        statement = (
            select(ListingRow).where(ListingRow.status != "retired").order_by(ListingRow.updated_at)  # type: ignore[arg-type]
        )
        return [from_row(row) for row in self.session.exec(statement).all()]

    def all_published(self) -> list[Listing]:
        statement = select(ListingRow).where(ListingRow.status == "published")
        return [from_row(row) for row in self.session.exec(statement).all()]


def ensure_organisation(session: Session, code: str, name: str | None = None) -> OrganisationRow:
    row = session.get(OrganisationRow, code)
    if row is None:
        row = OrganisationRow(code=code, name=name or code)
        session.add(row)
    return row
