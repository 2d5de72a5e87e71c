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
from services.common.usage_policy import offer
from services.contracts.catalog import ListingSnapshot
from services.orders.adapters.orm import remember_listing
from services.orders.api.app import create_app
from services.orders.handlers import OrdersContext
from services.pricing.domain.signing import QuoteSigner
from tests.integration.conftest import service_settings
from tests.policy_acceptance import order_body
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


def snapshot(listing_id: str, publisher: str, **fields: Any) -> ListingSnapshot:
    """A published listing's snapshot as catalog.listings carries it."""
    facts: dict[str, Any] = {
        "listing_id": listing_id,
        "org": publisher,
        "status": "published",
        "title_vi": "Dữ liệu",
        "title_en": "Data",
        "theme": "health",
        "provinces": ["hue"],
        "update_frequency": "monthly",
        "products": ["download"],
        "list_price": None,
        "columns": [],
        "latest_version": None,
        **fields,
    }
    return ListingSnapshot.model_validate(facts)


class Shop:
    """Drives one orders app: knows listings, makes quotes, places orders."""

    def __init__(self, client: TestClient, signer: QuoteSigner, auth: Headers) -> None:
        self.client = client
        self.signer = signer
        self.auth = auth
        self.snapshots: dict[str, ListingSnapshot] = {}

    @property
    def ctx(self) -> OrdersContext:
        ctx: OrdersContext = self.client.app.state.orders  # type: ignore[attr-defined]
        return ctx

    @property
    def settings(self) -> Settings:
        settings: Settings = self.client.app.state.settings  # type: ignore[attr-defined]
        return settings

    def listing(self, publisher: str, **fields: Any) -> str:
        """A listing orders already learnt about (as from catalog.listings)."""
        listing = snapshot(str(uuid.uuid4()), publisher, **fields)
        with transaction(self.ctx.engine) as session:
            remember_listing(session, listing)
        return self.learn(listing)

    def learn(self, listing: ListingSnapshot) -> str:
        """Remember a snapshot sent to orders, to accept its policy in later orders."""
        self.snapshots[listing.listing_id] = listing
        return listing.listing_id

    def policy(self, listing_id: str) -> dict[str, Any]:
        """The offer catalog would serve for the listing (the same builder, same IRI base)."""
        return offer(self.snapshots[listing_id], self.settings.iri_base)

    def quote(
        self, buyer: str, listing_id: str, total: int = 1_100_000, **kw: Any
    ) -> dict[str, Any]:
        return quote_document(
            self.signer, buyer_org=buyer, listing_id=listing_id, total=total, **kw
        )

    def place(
        self,
        buyer: str,
        quote: dict[str, Any],
        key: str | None = None,
        *,
        accept_policy: str | bool | None = True,
    ) -> Any:
        """POST the order; ``accept_policy`` True accepts the listing's current policy,
        a string sends that hash, None sends none."""
        listing_id = str(quote["listing_id"])
        if accept_policy is True and listing_id in self.snapshots:
            body = order_body(quote, self.policy(listing_id))
        else:
            body = {"quote": quote}
            if isinstance(accept_policy, str):
                body["accept_policy"] = accept_policy
        return self.client.post(
            "/v1/orders",
            json=body,
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
