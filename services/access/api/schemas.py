"""Request and response bodies of the access API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.access.domain.grant import Grant


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrivacyOut(BaseModel):
    k: int
    l_diversity: int | None
    suppression_share: float
    information_loss: float


class GrantOut(BaseModel):
    id: str
    order_id: str
    listing_id: str
    listing_version: int
    buyer_org: str
    status: str
    product: str
    duration_days: int
    created_at: datetime
    issued_at: datetime | None
    expires_at: datetime | None
    privacy: PrivacyOut | None
    rows: int | None
    reason: str | None
    #: The purpose the buyer declared and the SHA-256 of the grant's ODRL agreement.
    purpose: str | None = None
    agreement_sha256: str | None = None

    def with_terms(self, terms: tuple[str | None, str | None] | None) -> GrantOut:
        if terms is None:
            return self
        return self.model_copy(update={"purpose": terms[0], "agreement_sha256": terms[1]})

    @classmethod
    def of(cls, grant: Grant) -> GrantOut:
        return cls(
            id=grant.id,
            order_id=grant.order_id,
            listing_id=grant.listing_id,
            listing_version=grant.listing_version,
            buyer_org=grant.buyer_org,
            status=grant.status,
            product=grant.product,
            duration_days=grant.duration_days,
            created_at=grant.created_at,
            issued_at=grant.issued_at,
            expires_at=grant.expires_at,
            privacy=PrivacyOut(**grant.privacy.__dict__) if grant.privacy else None,
            rows=grant.rows,
            reason=grant.reason,
        )


class GrantPage(BaseModel):
    items: list[GrantOut]
    page: int
    page_size: int
    total: int


class DownloadIn(_In):
    format: Literal["parquet", "csv"] = "parquet"


class DownloadOut(BaseModel):
    url: str
    expires_at: datetime


class QueryIn(_In):
    sql: str = Field(min_length=1, max_length=20_000)


class QueryOut(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    suppressed_cells: int
    suppressed_groups: int
    truncated: bool
    k: int


class RevokeIn(_In):
    reason: str = Field(min_length=3, max_length=500)
