"""The audit store on SQLite and PostgreSQL: appends, scope, alerts, KPIs and checkpoints agree."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from services.common.auth import Principal
from services.common.db import create_tables, make_engine, transaction
from services.common.inbox import already_processed, record_processed
from services.common.runtime import COMMON_TABLES
from services.common.settings import Settings
from services.contracts.envelope import Envelope
from streams.audit.agents import GROUP_ID, audit_handlers
from streams.audit.checkpoints import list_checkpoints, sign_if_due
from streams.audit.keys import ledger_signing_key
from streams.audit.kpis import kpi_table
from streams.audit.ledger_store import ensure_head
from streams.audit.queries import RecordFilter, page_records
from streams.audit.tables import AUDIT_TABLES
from streams.audit.tree import LedgerTree
from streams.ledger.auditor import verify_ledger
from tests.unit.audit.audit_events import (
    BUYER,
    OTHER_BUYER,
    T0,
    access_sequence,
    download_url,
    ids,
    listing_published,
    order_paid,
    wrap,
)
from tests.unit.audit.test_audit_batches import apply_in_batches, busy_day, everything
from vndx.embedded import Postgres


def test_store_behaves_the_same_on_both_databases(database_url: str, keys_dir: Path) -> None:
    settings = Settings(
        env="test",
        service_name="audit",
        data_dir=keys_dir,
        database_url=database_url,
        audit_watch_downloads_per_hour=2,
    )
    engine = make_engine(database_url)
    create_tables(engine, [*COMMON_TABLES, *AUDIT_TABLES])
    ensure_head(engine)
    handlers = audit_handlers(settings)

    def apply(envelope: Envelope) -> None:
        with transaction(engine) as session:
            if already_processed(session, GROUP_ID, envelope.id):
                return
            handlers[envelope.type](session, envelope, envelope.payload())
            record_processed(session, GROUP_ID, envelope.id)

    listing, order, grant = ids("db")
    events = [
        wrap(listing_published(listing, provinces=["hue"])),
        wrap(order_paid(listing, order, at=T0)),
        *[wrap(p) for p in access_sequence("db")],
        *[wrap(download_url(listing, grant), T0 + timedelta(minutes=m)) for m in range(2)],
        *[wrap(p) for p in access_sequence("db-other", buyer=OTHER_BUYER)],
    ]
    for envelope in events + events:  # every event twice
        apply(envelope)

    regulator = Principal("r", "bo-tt", "regulator")
    with transaction(engine) as session:
        everything = page_records(session, regulator, RecordFilter(), limit=1000)
        mine = page_records(session, Principal("b", BUYER, "buyer"), RecordFilter(), limit=1000)
        alerts = page_records(session, regulator, RecordFilter(type="alert.raised"))
        by_province = kpi_table(session, period="day", dimension="province")
    assert [r.seq for r in everything] == list(range(12))  # 11 events and one alert
    assert len(mine) == 8 and all(r.buyer_org == BUYER for r in mine)
    assert [a.grant_id for a in alerts] == [grant]
    hue = next(row for row in by_province if row["value"] == "hue")
    assert (hue["revenue"], hue["grants"], hue["downloads"]) == (1_100_000, 1, 3)

    key = ledger_signing_key(settings)
    assert sign_if_due(engine, LedgerTree(engine), key, every=1, interval_s=1) is not None
    with transaction(engine) as session:
        checkpoints = list_checkpoints(session)
    report = verify_ledger([r.record for r in everything], checkpoints, key.public_key())
    assert report.ok and report.verified_size == 12
    engine.dispose()


def test_batches_store_what_single_events_store_on_both_databases(
    database_url: str, keys_dir: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        batched_url = f"sqlite:///{tmp_path / 'batched.db'}"
    else:
        server: Postgres = request.getfixturevalue("postgres")
        name = f"t_{uuid.uuid4().hex[:12]}"
        server.create_database(name)
        batched_url = server.dsn(name)
    settings = Settings(
        env="test",
        service_name="audit",
        data_dir=keys_dir,
        audit_watch_downloads_per_hour=3,
        audit_watch_refused_queries_per_hour=2,
        audit_watch_clients_per_hour=2,
    )
    events = busy_day()
    single, batched = make_engine(database_url), make_engine(batched_url)
    for engine in (single, batched):
        create_tables(engine, [*COMMON_TABLES, *AUDIT_TABLES])
        ensure_head(engine)
    handlers = audit_handlers(settings)
    for envelope in events:
        with transaction(single) as session:
            if not already_processed(session, GROUP_ID, envelope.id):
                handlers[envelope.type](session, envelope, envelope.payload())
                record_processed(session, GROUP_ID, envelope.id)

    assert apply_in_batches(batched, settings, events, 6) == 21
    assert apply_in_batches(batched, settings, events, 9) == 0  # replayed: nothing added
    assert everything(batched) == everything(single)
    assert everything(batched)["size"] == 23
    single.dispose()
    batched.dispose()
