"""Tables for a listing's usage terms, a grant's agreement, and cached previews.

They are new tables rather than new columns of ``grants`` and ``listing_versions``,
so a database made before them gains them at start (``create_all`` adds missing
tables; it never alters existing ones).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Table, Text
from sqlmodel import Field, SQLModel


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _time(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


def _text(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


class ListingTermsRow(SQLModel, table=True):
    """A listing's status and usage-policy fields, from its latest catalog event.

    ``snapshot_json`` is the whole public snapshot, from which the grant's ODRL
    agreement is built exactly as catalog and orders build the offer.
    """

    __tablename__ = "listing_terms"

    listing_id: str = Field(primary_key=True, max_length=36)
    org: str = Field(max_length=64)
    status: str = Field(max_length=16)
    latest_version: int | None = None
    allowed_purposes_json: str = "[]"
    approval: str = Field(default="automatic", max_length=16)
    min_k: int | None = None
    min_group_size: int | None = None
    buyer_may_terminate: bool = True
    snapshot_json: str = _text(nullable=False)
    updated_at: datetime = _time()


class GrantTermsRow(SQLModel, table=True):
    """What a grant was bought for and the agreement it rests on; how it ended early."""

    __tablename__ = "grant_terms"

    grant_id: str = Field(primary_key=True, max_length=36)
    purpose: str | None = Field(default=None, max_length=32)
    policy_sha256: str | None = Field(default=None, max_length=64)
    agreement_json: str | None = _text()
    agreement_sha256: str | None = Field(default=None, max_length=64)
    terminated_by_org: str | None = Field(default=None, max_length=64)
    terminated_by_role: str | None = Field(default=None, max_length=16)
    refund: str | None = Field(default=None, max_length=16)
    terminated_at: datetime | None = _time(nullable=True)


class PreviewRow(SQLModel, table=True):
    """A listing version's preview, computed once for a k target (or why it cannot be)."""

    __tablename__ = "listing_previews"

    listing_id: str = Field(primary_key=True, max_length=36)
    version: int = Field(primary_key=True)
    k: int
    preview_json: str | None = _text()
    error: str | None = _text()
    created_at: datetime = _time()


TERMS_TABLES: list[Table] = [
    ListingTermsRow.__table__,  # type: ignore[attr-defined]
    GrantTermsRow.__table__,  # type: ignore[attr-defined]
    PreviewRow.__table__,  # type: ignore[attr-defined]
]
