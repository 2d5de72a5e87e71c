"""SQLModel tables of the audit service's own database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, LargeBinary, Table
from sqlmodel import Column, Field, SQLModel


class LedgerEntryRow(SQLModel, table=True):
    """One ledger record, stored once: `seq` is its position, `event_id` its source event."""

    __tablename__ = "audit_ledger"
    __table_args__ = (
        Index("ix_audit_ledger_buyer", "buyer_org", "seq"),
        Index("ix_audit_ledger_publisher", "publisher_org", "seq"),
        Index("ix_audit_ledger_grant", "grant_id", "seq"),
        Index("ix_audit_ledger_listing", "listing_id", "seq"),
    )

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    event_id: str = Field(unique=True, max_length=200)
    event_type: str = Field(max_length=200, index=True)
    occurred_at: datetime = Field(index=True)
    buyer_org: str | None = Field(default=None, max_length=100)
    publisher_org: str | None = Field(default=None, max_length=100)
    listing_id: str | None = Field(default=None, max_length=64)
    grant_id: str | None = Field(default=None, max_length=64)
    order_id: str | None = Field(default=None, max_length=64)
    record: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LedgerHeadRow(SQLModel, table=True):
    """The single row holding the ledger's size; locking it serialises appends."""

    __tablename__ = "audit_ledger_head"

    id: int = Field(default=1, primary_key=True)
    size: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class CheckpointRow(SQLModel, table=True):
    """A signed checkpoint of the first `tree_size` records."""

    __tablename__ = "audit_checkpoint"

    tree_size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    timestamp_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    key_id: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class GrantFactsRow(SQLModel, table=True):
    """Who a grant belongs to, learnt from `GrantIssued` (later events lack the publisher)."""

    __tablename__ = "audit_grant"

    grant_id: str = Field(primary_key=True, max_length=64)
    listing_id: str = Field(max_length=64)
    buyer_org: str = Field(max_length=100)
    publisher_org: str = Field(max_length=100)
    order_id: str | None = Field(default=None, max_length=64)


class ListingFactsRow(SQLModel, table=True):
    """A listing's publisher, theme and provinces, from `catalog.listings` snapshots."""

    __tablename__ = "audit_listing"

    listing_id: str = Field(primary_key=True, max_length=64)
    publisher_org: str = Field(max_length=100)
    theme: str = Field(max_length=100)
    provinces: str = Field(default="", description="comma-separated province codes")


class KpiCounterRow(SQLModel, table=True):
    """One windowed figure: `metric` of `dimension`=`value` in `period` (day or month)."""

    __tablename__ = "audit_kpi"

    period: str = Field(
        primary_key=True, max_length=20, description="day:YYYY-MM-DD, month:YYYY-MM"
    )
    dimension: str = Field(primary_key=True, max_length=20)
    value: str = Field(primary_key=True, max_length=100)
    metric: str = Field(primary_key=True, max_length=40)
    amount: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False), description="đồng or count"
    )


class FulfilmentRow(SQLModel, table=True):
    """When an order was paid and when its grant was issued (for the payment-to-grant median)."""

    __tablename__ = "audit_fulfilment"

    order_id: str = Field(primary_key=True, max_length=64)
    listing_id: str | None = Field(default=None, max_length=64)
    publisher_org: str | None = Field(default=None, max_length=100)
    paid_at: datetime | None = None
    issued_at: datetime | None = None


class WatchCounterRow(SQLModel, table=True):
    """How often something happened to a grant in one hour (usage watch)."""

    __tablename__ = "audit_watch_count"

    grant_id: str = Field(primary_key=True, max_length=64)
    hour: str = Field(primary_key=True, max_length=20, description="YYYY-MM-DDTHH")
    kind: str = Field(primary_key=True, max_length=40)
    count: int = 0


class WatchClientRow(SQLModel, table=True):
    """A client seen using a grant in one hour (usage watch)."""

    __tablename__ = "audit_watch_client"

    grant_id: str = Field(primary_key=True, max_length=64)
    hour: str = Field(primary_key=True, max_length=20)
    client: str = Field(primary_key=True, max_length=200)


_MODELS: tuple[type[SQLModel], ...] = (
    LedgerEntryRow,
    LedgerHeadRow,
    CheckpointRow,
    GrantFactsRow,
    ListingFactsRow,
    KpiCounterRow,
    FulfilmentRow,
    WatchCounterRow,
    WatchClientRow,
)
AUDIT_TABLES: list[Table] = [model.__table__ for model in _MODELS]  # type: ignore[attr-defined]
