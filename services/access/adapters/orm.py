"""Tables of the access database and the mapping to the grant aggregate."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Column, DateTime, Table, func
from sqlmodel import Field, Session, SQLModel, col, select

from services.access.adapters.terms_orm import TERMS_TABLES
from services.access.domain.grant import Grant, MeasuredPrivacy


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _time(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
    )


class ListingVersionRow(SQLModel, table=True):
    """A listing version as the catalog announced it: raw file and column schema."""

    __tablename__ = "listing_versions"

    listing_id: str = Field(primary_key=True, max_length=36)
    version: int = Field(primary_key=True)
    org: str = Field(max_length=64)
    object_key: str = Field(max_length=500)
    format: str = Field(max_length=16)
    columns_json: str
    updated_at: datetime = Field(default_factory=_utcnow)


class GrantRow(SQLModel, table=True):
    """A grant; ``purged_at`` is set once a closed grant's extract objects are deleted."""

    __tablename__ = "grants"

    id: str = Field(primary_key=True, max_length=36)
    order_id: str = Field(unique=True, max_length=64)
    listing_id: str = Field(index=True, max_length=36)
    listing_version: int
    publisher_org: str = Field(max_length=64)
    buyer_org: str = Field(index=True, max_length=64)
    product: str = Field(max_length=16)
    duration_days: int
    status: str = Field(index=True, max_length=16)
    created_at: datetime = _time()
    issued_at: datetime | None = _time(nullable=True)
    expires_at: datetime | None = _time(nullable=True, index=True)
    privacy_json: str | None = None
    rows: int | None = None
    objects_json: str = "[]"
    reason: str | None = Field(default=None, max_length=1000)
    build_attempts: int = 0
    purged_at: datetime | None = _time(nullable=True)
    #: The paid order's trace, so the builder's events and logs continue the purchase's.
    traceparent: str | None = Field(default=None, max_length=64)


class DownloadUrlRow(SQLModel, table=True):
    """One presigned URL handed out (for the per-minute limit)."""

    __tablename__ = "download_urls"

    id: int | None = Field(default=None, primary_key=True)
    grant_id: str = Field(index=True, max_length=36)
    issued_at: datetime = _time(index=True)


ACCESS_TABLES: list[Table] = [
    ListingVersionRow.__table__,  # type: ignore[attr-defined]
    GrantRow.__table__,  # type: ignore[attr-defined]
    DownloadUrlRow.__table__,  # type: ignore[attr-defined]
    *TERMS_TABLES,
]


def to_grant(row: GrantRow) -> Grant:
    privacy = json.loads(row.privacy_json) if row.privacy_json else None
    return Grant(
        id=row.id,
        order_id=row.order_id,
        listing_id=row.listing_id,
        listing_version=row.listing_version,
        publisher_org=row.publisher_org,
        buyer_org=row.buyer_org,
        product=row.product,  # type: ignore[arg-type]
        duration_days=row.duration_days,
        created_at=_aware(row.created_at) or _utcnow(),
        status=row.status,  # type: ignore[arg-type]
        issued_at=_aware(row.issued_at),
        expires_at=_aware(row.expires_at),
        privacy=MeasuredPrivacy(**privacy) if privacy else None,
        rows=row.rows,
        objects=json.loads(row.objects_json),
        reason=row.reason,
    )


def write_grant(grant: Grant, row: GrantRow | None = None) -> GrantRow:
    row = row or GrantRow(
        id=grant.id,
        order_id=grant.order_id,
        listing_id=grant.listing_id,
        listing_version=grant.listing_version,
        publisher_org=grant.publisher_org,
        buyer_org=grant.buyer_org,
        product=grant.product,
        duration_days=grant.duration_days,
        status=grant.status,
        created_at=grant.created_at,
    )
    row.status = grant.status
    row.issued_at = grant.issued_at
    row.expires_at = grant.expires_at
    row.privacy_json = json.dumps(grant.privacy.__dict__) if grant.privacy else None
    row.rows = grant.rows
    row.objects_json = json.dumps(grant.objects)
    row.reason = grant.reason
    return row


#: ``Session.info`` key: the grants a session opened, by order id (see ``by_order``).
_OPENED_BY_ORDER = "vndx.access.grants_opened_by_order"


class GrantRepository:
    """Loads and saves grants in the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, grant_id: str, *, for_update: bool = False) -> GrantRow | None:
        statement = select(GrantRow).where(GrantRow.id == grant_id)
        if for_update:
            statement = statement.with_for_update()
        return self.session.exec(statement).first()

    def by_order(self, order_id: str) -> GrantRow | None:
        """The grant of ``order_id``: opened earlier in this session, or stored.

        The lookup does not flush: a consumer's batch opens many grants, and flushing
        before each lookup would insert them one by one instead of together at commit.
        """
        opened = self.session.info.get(_OPENED_BY_ORDER, {}).get(order_id)
        if opened is not None:
            return cast(GrantRow, opened)
        with self.session.no_autoflush:
            statement = select(GrantRow).where(GrantRow.order_id == order_id)
            return self.session.exec(statement).first()

    def save(self, grant: Grant, row: GrantRow | None = None) -> GrantRow:
        opened = row is None
        row = write_grant(grant, row)
        self.session.add(row)
        if opened:
            self.session.info.setdefault(_OPENED_BY_ORDER, {})[row.order_id] = row
        return row

    def page_of(self, buyer_org: str | None, offset: int, limit: int) -> tuple[list[GrantRow], int]:
        statement = select(GrantRow)
        counting = select(func.count()).select_from(GrantRow)
        if buyer_org is not None:
            statement = statement.where(GrantRow.buyer_org == buyer_org)
            counting = counting.where(GrantRow.buyer_org == buyer_org)
        rows = self.session.exec(
            statement.order_by(col(GrantRow.created_at).desc(), col(GrantRow.id))
            .offset(offset)
            .limit(limit)
        ).all()
        return list(rows), int(self.session.exec(counting).one())

    def ids_where(self, *conditions: Any, limit: int = 100) -> list[str]:
        statement = select(GrantRow.id).where(*conditions).limit(limit)
        return list(self.session.exec(statement).all())
