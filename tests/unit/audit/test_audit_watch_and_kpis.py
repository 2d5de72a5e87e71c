"""Usage-watch alerts and the KPI windows, on a real (SQLite) store."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import col, select

from services.common.db import transaction
from streams.audit.kpis import kpi_table
from streams.audit.tables import LedgerEntryRow
from streams.audit.watch import ALERT_TYPE
from streams.ledger.records import LedgerRecord
from tests.unit.audit.audit_events import (
    T0,
    download_url,
    grant_issued,
    ids,
    listing_published,
    order_paid,
    order_refunded,
    queried,
    wrap,
)
from tests.unit.audit.conftest import Apply


def alerts(engine: Engine) -> list[LedgerRecord]:
    with transaction(engine) as session:
        rows = session.exec(
            select(LedgerEntryRow)
            .where(LedgerEntryRow.event_type == ALERT_TYPE)
            .order_by(col(LedgerEntryRow.seq))
        ).all()
    return [LedgerRecord.from_bytes(r.record) for r in rows]


def test_one_alert_when_download_urls_exceed_the_hourly_threshold(
    engine: Engine, apply: Apply
) -> None:
    listing, order, grant = ids("busy")
    apply(wrap(grant_issued(listing, order, grant)))
    for minute in range(3):  # threshold is 3 an hour
        apply(wrap(download_url(listing, grant), T0 + timedelta(minutes=minute)))
    assert alerts(engine) == []
    for minute in range(3, 6):
        apply(wrap(download_url(listing, grant), T0 + timedelta(minutes=minute)))
    raised = alerts(engine)
    assert len(raised) == 1
    assert raised[0].grant_id == grant
    assert raised[0].data["kind"] == "download_urls" and raised[0].data["count"] == 4
    apply(wrap(download_url(listing, grant), T0 + timedelta(hours=1)))  # a new hour: count restarts
    assert len(alerts(engine)) == 1


def test_alerts_for_refused_queries_and_many_clients(engine: Engine, apply: Apply) -> None:
    listing, order, grant = ids("probing")
    apply(wrap(grant_issued(listing, order, grant)))
    for _ in range(3):  # threshold 2
        apply(wrap(queried(listing, grant, refused=True)))
    apply(wrap(queried(listing, grant)))  # an accepted query is not counted
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):  # 2 clients an hour; 3 URLs
        apply(wrap(download_url(listing, grant, client=client)))
    assert sorted(a.data["kind"] for a in alerts(engine)) == ["clients", "refused_queries"]


def test_kpis_per_day_month_agency_theme_province(engine: Engine, apply: Apply) -> None:
    listing, order, grant = ids("kpi")
    other_listing, other_order, _ = ids("kpi-refunded")
    apply(wrap(listing_published(listing, theme="land", provinces=["da-nang", "hue"])))
    apply(wrap(order_paid(listing, order, total=2_000_000, at=T0)))
    apply(wrap(grant_issued(listing, order, grant, at=T0 + timedelta(seconds=90))))
    apply(wrap(download_url(listing, grant)))
    apply(wrap(queried(listing, grant)))
    apply(wrap(order_paid(other_listing, other_order, total=500_000, at=T0 + timedelta(days=1))))
    apply(wrap(order_refunded(other_listing, other_order, amount=500_000)))

    with transaction(engine) as session:
        months = kpi_table(session, period="month", dimension="agency")
        days = kpi_table(session, period="day", dimension="province")
        themes = kpi_table(session, period="day", dimension="theme", start=T0.date(), end=T0.date())
    assert len(months) == 1
    month = months[0]
    assert (month["period"], month["value"]) == ("2026-03", "so-tnmt-da-nang")
    assert month["revenue"] == 2_500_000 and month["orders"] == 2
    assert month["budget_share"] == 600_000
    assert month["refunds"] == 500_000 and month["refunded_orders"] == 1
    assert (month["grants"], month["downloads"], month["queries"]) == (1, 1, 1)
    assert month["median_payment_to_grant_s"] == 90

    first_day = {(d["period"], d["value"]): d for d in days}
    assert first_day[("2026-03-02", "da-nang")]["revenue"] == 2_000_000
    assert first_day[("2026-03-02", "hue")]["grants"] == 1
    assert first_day[("2026-03-03", "unknown")]["revenue"] == 500_000  # no listing snapshot
    by_theme = {t["value"]: t for t in themes}
    assert by_theme["land"]["revenue"] == 2_000_000
    assert by_theme["unknown"]["refunds"] == 500_000  # refunded on the first day
    assert by_theme["unknown"]["revenue"] == 0  # paid on the second, outside the range
