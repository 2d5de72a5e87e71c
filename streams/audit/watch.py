"""The usage-watch agent: alerts when a grant is used unusually within one hour.

Counted per grant and clock hour (UTC): download URLs issued, refused
sandbox queries, and distinct clients. When a count first exceeds its
threshold (settings `audit_watch_*`), an alert record is appended to the
ledger (so it is on the live feed and verifiable like any record). Its event
id names the grant, the hour and the kind, so an alert is raised once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from sqlmodel import Session, col, func, select

from services.common.settings import Settings
from services.contracts.access import GrantDownloadUrlIssued, GrantQueried
from services.contracts.envelope import Envelope, EventPayload
from streams.audit.facts import publisher_of
from streams.audit.ledger_store import AuditEntry, append_entry
from streams.audit.tables import WatchClientRow, WatchCounterRow

ALERT_TYPE = "vn.vndx.audit.alert.raised.v1"


@dataclass(frozen=True)
class WatchThresholds:
    """How much use of one grant in one hour is still ordinary."""

    download_urls: int
    refused_queries: int
    clients: int

    @classmethod
    def from_settings(cls, settings: Settings) -> WatchThresholds:
        return cls(
            download_urls=settings.audit_watch_downloads_per_hour,
            refused_queries=settings.audit_watch_refused_queries_per_hour,
            clients=settings.audit_watch_clients_per_hour,
        )


class UsageWatch:
    """Counts grant use per hour and raises alerts past the thresholds."""

    def __init__(self, thresholds: WatchThresholds) -> None:
        self.thresholds = thresholds

    def observe(self, session: Session, envelope: Envelope, payload: EventPayload) -> None:
        data = payload.model_dump(mode="json")
        grant_id = data.get("grant_id")
        if not isinstance(grant_id, str):
            return
        hour = envelope.time.astimezone(UTC).strftime("%Y-%m-%dT%H")
        if isinstance(payload, GrantDownloadUrlIssued):
            count = _bump(session, grant_id, hour, "download_urls")
            self._maybe_alert(session, envelope, data, hour, "download_urls", count)
        if isinstance(payload, GrantQueried) and payload.refused:
            count = _bump(session, grant_id, hour, "refused_queries")
            self._maybe_alert(session, envelope, data, hour, "refused_queries", count)
        client = data.get("client")
        if isinstance(client, str) and client:
            count = _add_client(session, grant_id, hour, client)
            self._maybe_alert(session, envelope, data, hour, "clients", count)

    def _maybe_alert(
        self,
        session: Session,
        envelope: Envelope,
        data: dict[str, object],
        hour: str,
        kind: str,
        count: int,
    ) -> None:
        threshold = getattr(self.thresholds, kind)
        if count != threshold + 1:
            return
        grant_id = str(data["grant_id"])
        listing_id = data.get("listing_id")
        listing = listing_id if isinstance(listing_id, str) else None
        buyer = data.get("buyer_org")
        append_entry(
            session,
            AuditEntry(
                event_id=f"alert:{kind}:{grant_id}:{hour}",
                event_type=ALERT_TYPE,
                occurred_at=envelope.time,
                buyer_org=buyer if isinstance(buyer, str) else None,
                publisher_org=publisher_of(session, grant_id=grant_id, listing_id=listing),
                listing_id=listing,
                grant_id=grant_id,
                data={
                    "kind": kind,
                    "grant_id": grant_id,
                    "hour": hour,
                    "count": count,
                    "threshold": threshold,
                    "trigger_event_id": envelope.id,
                },
            ),
        )


def _bump(session: Session, grant_id: str, hour: str, kind: str) -> int:
    row = session.get(WatchCounterRow, (grant_id, hour, kind)) or WatchCounterRow(
        grant_id=grant_id, hour=hour, kind=kind
    )
    row.count += 1
    session.add(row)
    session.flush()
    return row.count


def _add_client(session: Session, grant_id: str, hour: str, client: str) -> int:
    if session.get(WatchClientRow, (grant_id, hour, client)) is None:
        session.add(WatchClientRow(grant_id=grant_id, hour=hour, client=client))
        session.flush()
    else:
        return 0  # a known client never crosses a threshold
    statement = select(func.count()).where(
        col(WatchClientRow.grant_id) == grant_id, col(WatchClientRow.hour) == hour
    )
    return int(session.exec(statement).one())
