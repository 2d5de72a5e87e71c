"""A pricing app wired to the real parts (one per module and database), and helpers.

Helpers publish real catalog events to ``catalog.listings`` and read the pricing
database, so tests check what pricing stored rather than how it got there.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, func, select

from services.common.auth import TokenIssuer
from services.common.db import transaction
from services.common.events import to_record
from services.common.kafka import KafkaPublisher
from services.common.outbox import OutboxRow
from services.common.settings import Settings
from services.contracts.catalog import (
    ALL_PURPOSES,
    ColumnFacts,
    ListingSnapshot,
    OrganisationVerified,
    Purpose,
    Segment,
    VersionFacts,
)
from services.contracts.envelope import Envelope, EventPayload
from services.pricing.adapters.orm import QuoteRow, ValuationRow, VerifiedOrganisationRow
from services.pricing.api.app import create_app
from services.pricing.context import PricingContext
from tests.integration.conftest import service_settings
from vndx.embedded import Postgres, SeaweedS3, Tansu

T = TypeVar("T")
Headers = Callable[..., dict[str, str]]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """One fresh database of each kind per test module (one app, one group join, per module)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('pricing') / 'pricing.db'}"
    server: Postgres = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    return server.dsn(name)


def pricing_settings(
    keys_dir: Path, tansu: Tansu, seaweed: SeaweedS3, database_url: str
) -> Settings:
    return service_settings(
        "pricing", keys_dir=keys_dir, tansu=tansu, seaweed=seaweed, database_url=database_url
    )


@pytest.fixture(scope="module")
def pricing(
    keys_dir: Path, tansu: Tansu, seaweed: SeaweedS3, module_database_url: str
) -> Iterator[TestClient]:
    settings = pricing_settings(keys_dir, tansu, seaweed, module_database_url)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def auth(issuer: TokenIssuer) -> Headers:
    def headers(org: str, role: str = "buyer", segment: str | None = None) -> dict[str, str]:
        token = issuer.issue(org, role, segment=segment)  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {token}"}

    return headers


def context(client: TestClient) -> PricingContext:
    ctx: PricingContext = client.app.state.pricing  # type: ignore[attr-defined]
    return ctx


def snapshot(
    listing_id: str | None = None,
    *,
    org: str = "so-y-te-ha-noi",
    status: str = "published",
    version: int = 1,
    row_count: int = 250_000,
    theme: str = "health",
    products: tuple[str, ...] = ("download", "sandbox"),
    created_at: datetime | None = None,
    sensitive: bool = True,
    allowed_purposes: tuple[Purpose, ...] = ALL_PURPOSES,
) -> ListingSnapshot:
    """A real catalog snapshot of a health listing with a classified schema
    (`sensitive=False`: the diagnosis column is a plain attribute)."""
    columns = [
        ColumnFacts(name="cccd", type="string", classification="direct_identifier"),
        ColumnFacts(name="birth_year", type="integer", classification="quasi_identifier"),
        ColumnFacts(name="district", type="string", classification="quasi_identifier"),
        ColumnFacts(
            name="diagnosis",
            type="string",
            classification="sensitive" if sensitive else "attribute",
        ),
        ColumnFacts(name="visits", type="integer", classification="attribute"),
    ]
    return ListingSnapshot(
        listing_id=listing_id or str(uuid.uuid4()),
        org=org,
        status=status,
        title_vi="Khám chữa bệnh Hà Nội",
        title_en="Hanoi hospital visits",
        theme=theme,
        provinces=["ha-noi"],
        update_frequency="monthly",
        products=list(products),
        list_price=None,
        columns=columns,
        allowed_purposes=list(allowed_purposes),
        latest_version=VersionFacts(
            version=version,
            format="csv",
            object_key=f"raw/{org}/x/{version}/data.csv",
            size_bytes=1000,
            sha256="0" * 64,
            row_count=row_count,
            quality_score=0.85,
            created_at=created_at or datetime.now(UTC) - timedelta(days=3),
        ),
    )


def publish(settings: Settings, *envelopes: Envelope) -> None:
    """Send envelopes to their topic as the catalog's outbox relay would."""

    async def send() -> None:
        publisher = KafkaPublisher(settings)
        try:
            for envelope in envelopes:
                payload = envelope.payload()
                await publisher.publish([to_record(payload.topic, envelope)])
        finally:
            await publisher.stop()

    asyncio.run(send())


def wrap(payload: EventPayload, at: datetime | None = None) -> Envelope:
    return Envelope.wrap(payload, source="/vndx/catalog", time=at)


def wait_for(probe: Callable[[], T | None], timeout_s: float = 45.0) -> T:
    """Poll until ``probe`` returns something; fail naming the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"nothing after {timeout_s} s")


def valuations(client: TestClient, listing_id: str) -> list[ValuationRow]:
    with transaction(context(client).engine) as session:
        statement = select(ValuationRow).where(ValuationRow.listing_id == listing_id)
        return list(session.exec(statement).all())


def stored_counts(client: TestClient) -> dict[str, int]:
    """How many quotes and outbox events pricing holds (to show nothing was written)."""
    with transaction(context(client).engine) as session:
        quotes = session.exec(select(func.count()).select_from(QuoteRow)).one()
        events = session.exec(select(func.count()).select_from(OutboxRow)).one()
        return {"quotes": int(quotes), "events": int(events)}


def quote_events(client: TestClient, quote_id: str) -> list[dict[str, Any]]:
    with transaction(context(client).engine) as session:
        rows = session.exec(select(OutboxRow).where(col(OutboxRow.key) == quote_id)).all()
        return [Envelope.model_validate_json(row.envelope_json).data for row in rows]


def verify_organisation(client: TestClient, org: str, segment: Segment) -> None:
    """Publish the catalog's OrganisationVerified on the real broker and wait until pricing
    consumed it (what an operator's `POST /v1/organisations/{code}/verification` emits)."""
    event = OrganisationVerified(
        code=org,
        registered_name=f"Registered {org}",
        segment=segment,
        verified_by="vndx-operator",
        verified_at=datetime.now(UTC),
    )
    publish(client.app.state.settings, wrap(event))  # type: ignore[attr-defined]

    def stored() -> bool:
        with transaction(context(client).engine) as session:
            row = session.get(VerifiedOrganisationRow, org)
            return row is not None and row.segment == segment

    wait_for(stored, timeout_s=60)
