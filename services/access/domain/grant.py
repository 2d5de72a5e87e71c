"""The grant aggregate: a buyer's time-limited access to one listing version's extract.

States: ``pending`` (paid, extract being built) -> ``issued`` -> ``expired``,
``revoked`` or ``terminated`` (ended early under the agreement, with a refund
decision); ``pending`` -> ``failed`` when the privacy targets cannot be met.
Pure rules, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

GrantStatus = Literal["pending", "issued", "failed", "revoked", "expired", "terminated"]
GrantProduct = Literal["download", "sandbox"]
CLOSED: frozenset[GrantStatus] = frozenset({"revoked", "expired", "terminated"})
MAX_URL_LIFETIME = timedelta(minutes=15)
_ENDED = {"revoked": "been revoked", "terminated": "been terminated"}


class GrantError(Exception):
    """A request the grant's state refuses; ``code`` is stable for the API."""

    code = "conflict"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GrantGone(GrantError):
    """The grant has expired or was revoked (HTTP 410)."""

    code = "grant_gone"


class GrantNotReady(GrantError):
    """The grant is still being built or failed (HTTP 409)."""

    code = "grant_not_ready"


class WrongProduct(GrantError):
    """A download on a sandbox grant or a query on a download grant (HTTP 409)."""

    code = "wrong_product"


@dataclass(frozen=True)
class MeasuredPrivacy:
    """What the released extract achieves, measured by pycanon before release."""

    k: int
    l_diversity: int | None
    suppression_share: float
    information_loss: float


@dataclass
class Grant:
    """One grant; its methods are the only way its state changes."""

    id: str
    order_id: str
    listing_id: str
    listing_version: int
    publisher_org: str
    buyer_org: str
    product: GrantProduct
    duration_days: int
    created_at: datetime
    status: GrantStatus = "pending"
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    privacy: MeasuredPrivacy | None = None
    rows: int | None = None
    objects: list[str] = field(default_factory=list)
    reason: str | None = None

    def issue(self, privacy: MeasuredPrivacy, rows: int, objects: list[str], now: datetime) -> None:
        self._require("pending", "issue")
        self.status = "issued"
        self.issued_at = now
        self.expires_at = now + timedelta(days=self.duration_days)
        self.privacy = privacy
        self.rows = rows
        self.objects = list(objects)

    def fail(self, reason: str) -> None:
        self._require("pending", "fail")
        self.status = "failed"
        self.reason = reason

    def revoke(self, reason: str) -> None:
        if self.status in CLOSED or self.status == "failed":
            raise GrantGone(f"grant is already {self.status}")
        self.status = "revoked"
        self.reason = reason

    def terminate(self, reason: str, now: datetime) -> tuple[int, int]:
        """End the grant early; return (remaining, period) seconds of its paid period.

        A grant not yet issued has its whole period left.
        """
        if self.status in CLOSED or self.is_due(now):
            raise GrantGone(f"grant has already ended ({self._ended(now)})")
        if self.status == "failed":
            raise GrantError("grant failed and was refunded; there is nothing to terminate")
        period = timedelta(days=self.duration_days)
        remaining = period
        if self.issued_at is not None and self.expires_at is not None:
            period = self.expires_at - self.issued_at
            remaining = max(self.expires_at - now, timedelta(0))
        self.status = "terminated"
        self.reason = reason
        return int(remaining.total_seconds()), int(period.total_seconds())

    def _ended(self, now: datetime) -> str:
        return "expired" if self.status == "issued" and self.is_due(now) else self.status

    def is_due(self, now: datetime) -> bool:
        return self.status == "issued" and self.expires_at is not None and self.expires_at <= now

    def expire(self, now: datetime) -> None:
        if not self.is_due(now):
            raise GrantError("grant is not due to expire")
        self.status = "expired"

    def renew(self, days: int, now: datetime) -> datetime:
        """Extend an issued grant by ``days`` from its expiry (or now, if later)."""
        self.check_usable(now)
        assert self.expires_at is not None
        self.expires_at = max(self.expires_at, now) + timedelta(days=days)
        return self.expires_at

    def check_usable(self, now: datetime, product: GrantProduct | None = None) -> None:
        """Raise unless the buyer may use the extract now (for ``product``, if given)."""
        if self.status in CLOSED or (self.status == "issued" and self.is_due(now)):
            raise GrantGone(f"grant has {_ENDED.get(self.status, 'expired')}")
        if self.status != "issued":
            raise GrantNotReady(
                "grant failed: " + (self.reason or "no extract")
                if self.status == "failed"
                else "the extract is still being built; try again shortly"
            )
        if product is not None and self.product != product:
            raise WrongProduct(
                f"this is a {self.product} grant; "
                + ("use POST /query" if self.product == "sandbox" else "use POST /download")
            )

    def url_lifetime(self, now: datetime) -> timedelta:
        """A download URL lives 15 minutes at most, never past the grant's expiry."""
        self.check_usable(now, "download")
        assert self.expires_at is not None
        return min(MAX_URL_LIFETIME, self.expires_at - now)

    def _require(self, status: GrantStatus, action: str) -> None:
        if self.status != status:
            raise GrantError(f"cannot {action} a {self.status} grant")
