"""A fresh audit database per test and a way to apply events as the consumer would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from services.common.db import create_tables, make_engine, transaction
from services.common.inbox import already_processed, record_processed
from services.common.runtime import COMMON_TABLES
from services.common.settings import Settings
from services.contracts.envelope import Envelope
from streams.audit.agents import GROUP_ID, audit_handlers
from streams.audit.ledger_store import ensure_head
from streams.audit.tables import AUDIT_TABLES

Apply = Callable[[Envelope], bool]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        service_name="audit",
        data_dir=tmp_path,
        audit_watch_downloads_per_hour=3,
        audit_watch_refused_queries_per_hour=2,
        audit_watch_clients_per_hour=2,
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.resolved_database_url)
    create_tables(engine, [*COMMON_TABLES, *AUDIT_TABLES])
    ensure_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def apply(engine: Engine, settings: Settings) -> Apply:
    """Apply an event as `EventConsumer` does: handler and inbox in one transaction."""
    handlers = audit_handlers(settings)

    def run(envelope: Envelope) -> bool:
        with transaction(engine) as session:
            if already_processed(session, GROUP_ID, envelope.id):
                return False
            handlers[envelope.type](session, envelope, envelope.payload())
            record_processed(session, GROUP_ID, envelope.id)
        return True

    return run
