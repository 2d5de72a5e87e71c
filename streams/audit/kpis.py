"""The KPI agent: windowed figures per day and per month, per agency, theme and province.

Tumbling windows keyed by the event's own time (UTC): a paid order adds to
`revenue`, `budget_share` and `orders`; a refund to `refunds` (đồng) and
`refunded_orders`; grants, download URLs and sandbox queries are counted.
Theme and provinces come from the catalog's listing snapshots (a listing
counts in each of its provinces; "unknown" until its snapshot arrives).
The median time from payment to grant is computed when asked, from the
paid and issued times kept per order.

Counters are additive, so a transaction's increments are summed in memory
and written with one upsert (run for many rows) just before it commits: a batch of events costs
one statement, not one per event. The payment and grant times per order are
kept per transaction too (the first one missing is looked up with those of
the whole batch, in one query) and written when the session flushes.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from functools import cache
from statistics import median
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from services.contracts.access import GrantDownloadUrlIssued, GrantIssued, GrantQueried
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.orders import OrderPaid, OrderRefunded
from streams.audit.batches import batch_values
from streams.audit.facts import listing_dimensions, publisher_of
from streams.audit.tables import FulfilmentRow, KpiCounterRow

PeriodKind = Literal["day", "month"]
Dimension = Literal["agency", "theme", "province"]
METRICS = (
    "revenue",
    "budget_share",
    "orders",
    "refunds",
    "refunded_orders",
    "grants",
    "downloads",
    "queries",
)


def period_key(kind: PeriodKind, moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%d") if kind == "day" else utc.strftime("%Y-%m")


def _dimension_values(
    session: Session, publisher: str | None, listing_id: str | None
) -> dict[Dimension, list[str]]:
    theme, provinces = listing_dimensions(session, listing_id)
    return {"agency": [publisher or "unknown"], "theme": [theme], "province": provinces}


def _bump(
    session: Session,
    moment: datetime,
    publisher: str | None,
    listing_id: str | None,
    amounts: dict[str, int],
) -> None:
    dimensions = _dimension_values(session, publisher, listing_id)
    kinds: tuple[PeriodKind, ...] = ("day", "month")
    pending: dict[tuple[str, str, str, str], int] = session.info.setdefault(_PENDING, {})
    for kind in kinds:
        period = f"{kind}:{period_key(kind, moment)}"
        for dimension, values in dimensions.items():
            for value in dict.fromkeys(values):
                for metric, amount in amounts.items():
                    key = (period, dimension, value, metric)
                    pending[key] = pending.get(key, 0) + amount


_PENDING = "audit_kpi_pending"


@event.listens_for(OrmSession, "before_commit")
def _write_pending(session: OrmSession) -> None:
    """Add the transaction's summed increments to the stored counters (one upsert)."""
    pending: dict[tuple[str, str, str, str], int] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    rows = [
        {"period": period, "dimension": dimension, "value": value, "metric": metric, "amount": n}
        for (period, dimension, value, metric), n in pending.items()
    ]
    session.connection().execute(_upsert(session.get_bind().dialect.name), rows)


@event.listens_for(OrmSession, "after_rollback")
def _drop_pending(session: OrmSession) -> None:
    session.info.pop(_PENDING, None)


@cache
def _upsert(dialect: str) -> Any:
    """INSERT .. ON CONFLICT adding to a counter, run once for all rows (SQLite and PostgreSQL).

    One statement executed with many rows, compiled once per dialect: a
    multi-row VALUES would be compiled anew for every batch.
    """
    table = KpiCounterRow.__table__  # type: ignore[attr-defined]
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=["period", "dimension", "value", "metric"],
        set_={"amount": table.c.amount + statement.excluded.amount},
    )


_ORDERS = "audit_kpi_orders"


def _orders(session: Session) -> dict[str, FulfilmentRow | None]:
    """The fulfilment rows this transaction has looked up (None where missing), held strongly."""
    current = session.get_transaction()
    held = session.info.get(_ORDERS)
    if held is None or held[0] is not current:
        held = (current, {})
        session.info[_ORDERS] = held
    orders: dict[str, FulfilmentRow | None] = held[1]
    return orders


def note_orders(session: Session, order_ids: list[str]) -> None:
    """Look up the fulfilment rows of these orders with one query (for `observe`)."""
    orders = _orders(session)
    unknown = [order_id for order_id in dict.fromkeys(order_ids) if order_id not in orders]
    if not unknown:
        return
    statement = select(FulfilmentRow).where(col(FulfilmentRow.order_id).in_(unknown))
    found = {row.order_id: row for row in session.exec(statement).all()}
    for order_id in unknown:
        orders[order_id] = found.get(order_id)


def _known_fulfilment(session: Session, order_id: str) -> FulfilmentRow | None:
    orders = _orders(session)
    if order_id not in orders:
        note_orders(session, [order_id, *batch_values(session, "order_id")])
    return orders[order_id]


def _fulfilment(session: Session, order_id: str) -> FulfilmentRow:
    row = _known_fulfilment(session, order_id)
    if row is None:
        row = FulfilmentRow(order_id=order_id)
        session.add(row)
        _orders(session)[order_id] = row
    return row


def observe(session: Session, envelope: Envelope, payload: EventPayload) -> None:
    """Add `payload` to the windowed figures."""
    if isinstance(payload, OrderPaid):
        _bump(
            session,
            payload.paid_at,
            payload.publisher_org,
            payload.listing_id,
            {"revenue": payload.total, "budget_share": payload.split.budget_share, "orders": 1},
        )
        row = _fulfilment(session, payload.order_id)
        row.paid_at = payload.paid_at.astimezone(UTC)
        row.listing_id = payload.listing_id
        row.publisher_org = payload.publisher_org
        session.add(row)
    elif isinstance(payload, OrderRefunded):
        known = _known_fulfilment(session, payload.order_id)
        publisher = known.publisher_org if known else None
        publisher = publisher or publisher_of(session, grant_id=None, listing_id=payload.listing_id)
        _bump(
            session,
            envelope.time,
            publisher,
            payload.listing_id,
            {"refunds": payload.amount, "refunded_orders": 1},
        )
    elif isinstance(payload, GrantIssued):
        _bump(session, payload.issued_at, payload.publisher_org, payload.listing_id, {"grants": 1})
        row = _fulfilment(session, payload.order_id)
        row.issued_at = payload.issued_at.astimezone(UTC)
        row.listing_id = payload.listing_id
        row.publisher_org = row.publisher_org or payload.publisher_org
        session.add(row)
    elif isinstance(payload, GrantDownloadUrlIssued | GrantQueried):
        publisher = publisher_of(session, grant_id=payload.grant_id, listing_id=payload.listing_id)
        metric = "downloads" if isinstance(payload, GrantDownloadUrlIssued) else "queries"
        _bump(session, envelope.time, publisher, payload.listing_id, {metric: 1})


def kpi_table(
    session: Session,
    *,
    period: PeriodKind,
    dimension: Dimension,
    start: date | None = None,
    end: date | None = None,
) -> list[dict[str, Any]]:
    """One row per (period, dimension value), every metric and the median payment-to-grant."""
    low = f"{period}:" + (_period_text(period, start) if start else "")
    high = f"{period}:" + (_period_text(period, end) if end else "\uffff")
    statement = select(KpiCounterRow).where(
        col(KpiCounterRow.dimension) == dimension,
        col(KpiCounterRow.period) >= low,
        col(KpiCounterRow.period) <= high,
    )
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for row in session.exec(statement).all():
        label = row.period.split(":", 1)[1]
        entry = table.setdefault((label, row.value), _empty_row(label, dimension, row.value))
        entry[row.metric] = row.amount
    for key, delays in _delays(session, period, dimension).items():
        label = key[0]
        if (start and label < _period_text(period, start)) or (
            end and label > _period_text(period, end)
        ):
            continue
        entry = table.setdefault(key, _empty_row(label, dimension, key[1]))
        entry["median_payment_to_grant_s"] = median(delays)
    return [table[key] for key in sorted(table)]


def _period_text(kind: PeriodKind, day: date) -> str:
    return day.strftime("%Y-%m-%d") if kind == "day" else day.strftime("%Y-%m")


def _empty_row(period: str, dimension: str, value: str) -> dict[str, Any]:
    row: dict[str, Any] = {"period": period, "dimension": dimension, "value": value}
    row.update(dict.fromkeys(METRICS, 0))
    row["median_payment_to_grant_s"] = None
    return row


def _delays(
    session: Session, period: PeriodKind, dimension: Dimension
) -> dict[tuple[str, str], list[float]]:
    statement = select(FulfilmentRow).where(
        col(FulfilmentRow.paid_at).is_not(None), col(FulfilmentRow.issued_at).is_not(None)
    )
    delays: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in session.exec(statement).all():
        assert row.paid_at is not None and row.issued_at is not None
        issued = _aware(row.issued_at)
        seconds = (issued - _aware(row.paid_at)).total_seconds()
        label = period_key(period, issued)
        values = _dimension_values(session, row.publisher_org, row.listing_id)[dimension]
        for value in values:
            delays[(label, value)].append(seconds)
    return delays


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes for what was stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
