"""An access app on the real parts, and a stand-in for the catalog and orders services.

The catalog's and orders' side is played by publishing their contract events
(``listing.published`` with the raw file put where the catalog puts it, and
``order.paid``) straight to the broker, as those services would.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.access.api.app import create_app
from services.common.auth import TokenIssuer
from services.common.events import to_record
from services.common.kafka import KafkaPublisher
from services.common.objectstore import ObjectStore
from services.common.settings import Settings
from services.contracts._base import RevenueSplit
from services.contracts.catalog import ColumnFacts, ListingPublished, ListingSnapshot, VersionFacts
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.orders import OrderPaid
from tests.integration.conftest import service_settings
from vndx.demo_data import demo_datasets
from vndx.embedded import SeaweedS3, Tansu

Headers = Callable[..., dict[str, str]]
MASTER_KEY = "test-pseudonym-master-key-0123456789abcdef"


def access_settings(
    keys_dir: Path, tansu: Tansu, seaweed: SeaweedS3, database_url: str, **extra: object
) -> Settings:
    settings = service_settings(
        "access", keys_dir=keys_dir, tansu=tansu, seaweed=seaweed, database_url=database_url
    )
    values: dict[str, object] = {
        "pseudonym_master_key": SecretStr(MASTER_KEY),
        "grant_build_poll_interval_s": 0.2,
        "grant_listing_wait_s": 3600.0,
        "expiry_sweep_interval_s": 3600.0,
        **extra,
    }
    return settings.model_copy(update=values)


class ServicesAround:
    """Plays the catalog and orders around access: their events, the raw file."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = ObjectStore.from_settings(settings)

    def emit(self, *payloads: EventPayload, envelope: Envelope | None = None) -> Envelope:
        """Publish events as their owning service's outbox relay would."""
        envelopes = [Envelope.wrap(p, source="/vndx/test") for p in payloads]
        if envelope is not None:
            envelopes.append(envelope)

        async def send() -> None:
            publisher = KafkaPublisher(self.settings)
            try:
                await publisher.publish([to_record(e_topic(e), e) for e in envelopes])
            finally:
                await publisher.stop()

        def e_topic(envelope: Envelope) -> str:
            cls = envelope.payload().__class__
            return str(cls.topic)

        asyncio.run(send())
        return envelopes[-1]

    def publish_listing(
        self, org: str, columns: list[dict[str, Any]], raw: Path, fmt: str = "csv"
    ) -> str:
        """Put the raw file under ``raw/`` and announce the listing as the catalog does."""
        return self.announce_listing(org, columns, raw, fmt=fmt).listing_id

    def download(self, grant: dict[str, Any], fmt: str = "parquet") -> httpx.Response:
        """Fetch one format of a grant's extract through a presigned URL, as its buyer."""
        issued = self.client.post(
            f"/v1/grants/{grant['id']}/download",
            json={"format": fmt},
            headers=self.auth(grant["buyer_org"]),
        )
        assert issued.status_code == 200, issued.text
        return httpx.get(issued.json()["url"])

    def announce_listing(
        self,
        org: str,
        columns: list[dict[str, Any]],
        raw: Path,
        *,
        fmt: str = "csv",
        status: str = "published",
        listing_id: str | None = None,
        version: int = 1,
        **terms: Any,
    ) -> ListingSnapshot:
        """``publish_listing`` with another ``status``, usage-policy ``terms`` in the
        snapshot, or a later ``version`` of ``listing_id``; returns the snapshot announced."""
        self.store.ensure_bucket()
        listing_id = listing_id or str(uuid.uuid4())
        key = f"raw/{org}/{listing_id}/{version}/data.{fmt}"
        self.store.put_file(key, raw, "text/csv")
        snapshot = ListingSnapshot(
            listing_id=listing_id,
            org=org,
            status=status,
            title_vi="Dữ liệu thử",
            title_en="Test data",
            theme="population",
            provinces=[],
            update_frequency="monthly",
            products=["download", "sandbox"],
            list_price=None,
            columns=[
                ColumnFacts(
                    name=c["name"],
                    type=c["type"],
                    classification=c["classification"],
                    hint=c.get("hint"),
                    keep_as_pseudonym=c.get("keep_as_pseudonym", False),
                )
                for c in columns
            ],
            latest_version=VersionFacts(
                version=version,
                format=fmt,
                object_key=key,
                size_bytes=raw.stat().st_size,
                sha256="0" * 64,
                row_count=1,
                quality_score=1.0,
                created_at=datetime.now(UTC),
            ),
            **terms,
        )
        self.emit(ListingPublished(listing=snapshot))
        return snapshot

    def paid(
        self,
        buyer: str,
        listing_id: str,
        *,
        product: str = "download",
        days: int = 30,
        renews: str | None = None,
    ) -> OrderPaid:
        return OrderPaid(
            order_id=str(uuid.uuid4()),
            buyer_org=buyer,
            listing_id=listing_id,
            quote_id=str(uuid.uuid4()),
            publisher_org="publisher",
            listing_version=1,
            product=product,
            duration_days=days,
            total=1_100_000,
            currency="VND",
            split=RevenueSplit(
                platform_fee=100_000, agency_share=800_000, budget_share=100_000, vat=100_000
            ),
            payment_provider="local",
            paid_at=datetime.now(UTC),
            renews_grant_id=renews,
        )


class Exchange(ServicesAround):
    """Drives one access app and plays the catalog and orders around it."""

    def __init__(self, client: TestClient, auth: Headers, tmp: Path) -> None:
        super().__init__(client.app.state.settings)  # type: ignore[attr-defined]
        self.client = client
        self.auth = auth
        self.tmp = tmp

    def grant_for(self, order: OrderPaid, timeout_s: float = 120.0) -> dict[str, Any]:
        """Wait until the order's grant is settled (issued or failed)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            page = self.client.get(
                "/v1/grants", params={"page_size": 100}, headers=self.auth(order.buyer_org)
            )
            assert page.status_code == 200, page.text
            for item in page.json()["items"]:
                if item["order_id"] == order.order_id and item["status"] != "pending":
                    return item  # type: ignore[no-any-return]
            time.sleep(0.2)
        raise AssertionError(f"no settled grant for order {order.order_id}")

    def buy(self, buyer: str, listing_id: str, **kw: Any) -> dict[str, Any]:
        order = self.paid(buyer, listing_id, **kw)
        self.emit(order)
        return self.grant_for(order)


def write_population(path: Path, rows: int, seed: int = 7) -> tuple[Path, list[dict[str, Any]]]:
    """The demo population registry (synthetic, Faker vi_VN) and its catalog columns."""
    dataset = next(d for d in demo_datasets() if d.org == "bca-c06")
    dataset.write_csv(path, rows, random.Random(seed))
    return path, list(dataset.listing["columns"])


def read_csv_column(path: Path, column: str) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [row[column] for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def auth(issuer: TokenIssuer) -> Headers:
    def headers(org: str, role: str = "buyer") -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.issue(org, role)}"}  # type: ignore[arg-type]

    return headers


StartExchange = Callable[..., contextlib.AbstractContextManager[Exchange]]


@pytest.fixture(scope="module")
def start_exchange(
    keys_dir: Path, tansu: Tansu, seaweed: SeaweedS3, auth: Headers
) -> StartExchange:
    """Starts an access app on SQLite under a folder, with extra settings, and its exchange."""

    @contextlib.contextmanager
    def start(tmp: Path, **extra: object) -> Iterator[Exchange]:
        url = f"sqlite:///{tmp / 'access.db'}"
        settings = access_settings(keys_dir, tansu, seaweed, url, **extra)
        with TestClient(create_app(settings)) as client:
            yield Exchange(client, auth, tmp)

    return start


@pytest.fixture(scope="module")
def exchange(
    start_exchange: StartExchange, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Exchange]:
    with start_exchange(tmp_path_factory.mktemp("access"), download_urls_per_minute=3) as app:
        yield app
