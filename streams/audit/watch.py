"""The usage-watch agent: alerts when a grant is used unusually within one hour.

Counted per grant and clock hour (UTC): download URLs issued, refused
sandbox queries, and distinct clients. When a count first exceeds its
threshold (settings `audit_watch_*`), an alert record is appended to the
ledger (so it is on the live feed and verifiable like any record). Its event
id names the grant, the hour and the kind, so an alert is raised once.

The counters and clients of a batch's grants and hours are looked up together
(two queries) and kept for its transaction; changes are written at its flush.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC

from sqlmodel import Session, col, select

from services.common.settings import Settings
from services.contracts.access import GrantDownloadUrlIssued, GrantQueried
from services.contracts.envelope import Envelope, EventPayload
from streams.audit.batches import batch_items
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
        hour = _hour_of(envelope)
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


@dataclass
class _Seen:
    """What one transaction knows of the counters and clients, held strongly until it ends."""

    transaction: object
    covered: list[tuple[set[str], set[str]]] = field(default_factory=list)
    """(grants, hours) looked up together: every counter and client of each pair is known."""
    counters: dict[tuple[str, str, str], WatchCounterRow] = field(default_factory=dict)
    clients: set[tuple[str, str, str]] = field(default_factory=set)
    client_counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def knows(self, grant_id: str, hour: str) -> bool:
        return any(grant_id in grants and hour in hours for grants, hours in self.covered)


_SEEN = "audit_watch_seen"


def _hour_of(envelope: Envelope) -> str:
    return envelope.time.astimezone(UTC).strftime("%Y-%m-%dT%H")


def _seen(session: Session, grant_id: str, hour: str) -> _Seen:
    """This transaction's counts, with those of `grant_id` in `hour` looked up."""
    current = session.get_transaction()
    held: _Seen | None = session.info.get(_SEEN)
    if held is None or held.transaction is not current:
        held = _Seen(current)
        session.info[_SEEN] = held
    if not held.knows(grant_id, hour):
        _look_up(session, held, grant_id, hour)
    return held


def _look_up(session: Session, seen: _Seen, grant_id: str, hour: str) -> None:
    """Counters and clients of every grant and hour of the batch (this one too): two queries."""
    grants, hours = {grant_id}, {hour}
    for item in batch_items(session):
        batch_grant = getattr(item.payload, "grant_id", None)
        if isinstance(batch_grant, str):
            grants.add(batch_grant)
            hours.add(_hour_of(item.envelope))
    counters = select(WatchCounterRow).where(
        col(WatchCounterRow.grant_id).in_(grants), col(WatchCounterRow.hour).in_(hours)
    )
    for row in session.exec(counters).all():
        seen.counters.setdefault((row.grant_id, row.hour, row.kind), row)
    clients = select(WatchClientRow.grant_id, WatchClientRow.hour, WatchClientRow.client).where(
        col(WatchClientRow.grant_id).in_(grants), col(WatchClientRow.hour).in_(hours)
    )
    for known_grant, known_hour, client in session.exec(clients).all():
        key = (known_grant, known_hour, client)
        if key not in seen.clients:  # rows this transaction added are counted already
            seen.clients.add(key)
            pair = (known_grant, known_hour)
            seen.client_counts[pair] = seen.client_counts.get(pair, 0) + 1
    seen.covered.append((grants, hours))


def _bump(session: Session, grant_id: str, hour: str, kind: str) -> int:
    counters = _seen(session, grant_id, hour).counters
    key = (grant_id, hour, kind)
    row = counters.get(key)
    if row is None:
        row = WatchCounterRow(grant_id=grant_id, hour=hour, kind=kind)
        session.add(row)
        counters[key] = row
    row.count += 1
    return row.count


def _add_client(session: Session, grant_id: str, hour: str, client: str) -> int:
    seen = _seen(session, grant_id, hour)
    key = (grant_id, hour, client)
    if key in seen.clients:
        return 0  # a known client never crosses a threshold
    session.add(WatchClientRow(grant_id=grant_id, hour=hour, client=client))
    seen.clients.add(key)
    count = seen.client_counts.get((grant_id, hour), 0) + 1
    seen.client_counts[(grant_id, hour)] = count
    return count
