"""Events of access: grants, extracts, downloads, queries, revocation, expiry.

These are what the audit ledger records for regulators.
"""

from __future__ import annotations

from pydantic import AwareDatetime

from services.contracts._base import Frozen
from services.contracts.envelope import EventPayload, register
from services.contracts.topics import ACCESS_GRANTS


class PrivacyFigures(Frozen):
    """Measured by an independent checker before release."""

    k: int
    l_diversity: int | None
    suppression_share: float
    information_loss: float


class _GrantEvent(EventPayload):
    topic = ACCESS_GRANTS

    grant_id: str
    buyer_org: str
    listing_id: str

    def aggregate_id(self) -> str:
        return self.grant_id


@register
class GrantIssued(_GrantEvent):
    event_type = "vn.vndx.access.grant.issued.v1"

    order_id: str
    publisher_org: str
    listing_version: int
    product: str
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    privacy: PrivacyFigures
    rows: int
    objects: list[str]
    #: RFC 8785 SHA-256 of the grant's ODRL agreement, so the ledger proves what was agreed.
    agreement_sha256: str | None = None
    purpose: str | None = None


@register
class GrantFailed(_GrantEvent):
    event_type = "vn.vndx.access.grant.failed.v1"

    order_id: str
    reason: str


@register
class GrantDownloadUrlIssued(_GrantEvent):
    event_type = "vn.vndx.access.grant.download_url_issued.v1"

    format: str
    url_expires_at: AwareDatetime
    client: str | None = None


@register
class GrantQueried(_GrantEvent):
    event_type = "vn.vndx.access.grant.queried.v1"

    sql_sha256: str
    rows_returned: int
    suppressed_cells: int = 0
    refused: bool = False
    reason: str | None = None
    client: str | None = None


@register
class GrantRevoked(_GrantEvent):
    event_type = "vn.vndx.access.grant.revoked.v1"

    by_org: str
    by_role: str
    reason: str


@register
class GrantExpired(_GrantEvent):
    event_type = "vn.vndx.access.grant.expired.v1"


@register
class GrantRenewed(_GrantEvent):
    event_type = "vn.vndx.access.grant.renewed.v1"

    order_id: str
    expires_at: AwareDatetime
    #: The renewed period's agreement (purpose and accepted policy of the renewal order).
    agreement_sha256: str | None = None


@register
class GrantTerminated(_GrantEvent):
    """Access ended early: for breach, by legal order, or by the buyer.

    Orders reverses the settlement by ``refund`` ("none", "pro_rata", "full"); for
    pro rata the refunded share is ``remaining_seconds / period_seconds`` of the total.
    """

    event_type = "vn.vndx.access.grant.terminated.v1"

    order_id: str
    publisher_org: str
    by_org: str
    by_role: str
    reason: str
    refund: str
    remaining_seconds: int
    period_seconds: int
