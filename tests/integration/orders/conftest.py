"""An orders app wired to the real parts, a quote signer, and helpers to drive it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.common.auth import TokenIssuer, ensure_keypair
from services.common.db import transaction
from services.common.settings import Settings
from services.orders.adapters.orm import remember_listing_owner
from services.orders.api.app import create_app
from services.orders.handlers import OrdersContext
from services.pricing.domain.signing import QuoteSigner
from tests.integration.conftest import service_settings
from tests.unit.orders.quotes import quote_document, signer_from_pem
from vndx.embedded import Postgres, SeaweedS3, Tansu

Headers = Callable[..., dict[str, str]]


@pytest.fixture(scope="session")
def quote_signer(keys_dir: Path) -> QuoteSigner:
    settings = Settings(data_dir=keys_dir)
    private, public = settings.key_path("quote", "private"), settings.key_path("quote", "public")
    ensure_keypair(private, public)
    return signer_from_pem(private.read_bytes())


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """One fresh database of each kind per test module (one app per module)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('orders') / 'orders.db'}"
    server: Postgres = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    return server.dsn(name)


def orders_settings(
    keys_dir: Path, tansu: Tansu, seaweed: SeaweedS3, database_url: str, **extra: object
) -> Settings:
    settings = service_settings(
        "orders", keys_dir=keys_dir, tansu=tansu, seaweed=seaweed, database_url=database_url
    )
    return settings.model_copy(update={"orders_sweep_interval_s": 3600.0, **extra})


@pytest.fixture(scope="session")
def auth(issuer: TokenIssuer) -> Headers:
    def headers(org: str, role: str = "buyer", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.issue(org, role)}", **extra}  # type: ignore[arg-type]

    return headers


class Shop:
    """Drives one orders app: knows listings, makes quotes, places orders."""

    def __init__(self, client: TestClient, signer: QuoteSigner, auth: Headers) -> None:
        self.client = client
        self.signer = signer
        self.auth = auth

    @property
    def ctx(self) -> OrdersContext:
        ctx: OrdersContext = self.client.app.state.orders  # type: ignore[attr-defined]
        return ctx

    def listing(self, publisher: str) -> str:
        """A listing orders already learnt about (as from catalog.listings)."""
        listing_id = str(uuid.uuid4())
        with transaction(self.ctx.engine) as session:
            remember_listing_owner(session, listing_id, publisher)
        return listing_id

    def quote(
        self, buyer: str, listing_id: str, total: int = 1_100_000, **kw: Any
    ) -> dict[str, Any]:
        return quote_document(
            self.signer, buyer_org=buyer, listing_id=listing_id, total=total, **kw
        )

    def place(self, buyer: str, quote: dict[str, Any], key: str | None = None) -> Any:
        return self.client.post(
            "/v1/orders",
            json={"quote": quote},
            headers=self.auth(buyer, "buyer", **{"Idempotency-Key": key or str(uuid.uuid4())}),
        )

    def order(self, buyer: str, listing_id: str, total: int = 1_100_000) -> dict[str, Any]:
        response = self.place(buyer, self.quote(buyer, listing_id, total))
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def get(self, org: str, order_id: str, role: str = "buyer") -> Any:
        return self.client.get(f"/v1/orders/{order_id}", headers=self.auth(org, role))


@pytest.fixture(scope="module")
def local_shop(
    keys_dir: Path,
    tansu: Tansu,
    seaweed: SeaweedS3,
    module_database_url: str,
    quote_signer: QuoteSigner,
    auth: Headers,
) -> Iterator[Shop]:
    settings = orders_settings(keys_dir, tansu, seaweed, module_database_url)
    with TestClient(create_app(settings)) as client:
        yield Shop(client, quote_signer, auth)
