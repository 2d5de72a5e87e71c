"""A purchase on a running exchange, step by step, written once for every test that buys.

publish a listing -> verify the buyer -> quote -> order accepting the usage policy
-> settle the local invoice -> the issued grant. Each step sends what a client sends;
where a service must first learn something from events, the step asks again until it has.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from services.common.auth import TokenIssuer
from services.common.settings import Settings
from tests.policy_acceptance import accepted_order_body
from vndx.demo_data import adult_listing
from vndx.stack import EmbeddedStack


def until(what: str, probe: Callable[[], Any], timeout: float = 120) -> Any:
    """``probe()``'s first truthy answer, asked every 0.3 s; fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def stack_issuer(stack: EmbeddedStack) -> TokenIssuer:
    """Signs tokens the stack's services accept (its development key)."""
    settings = Settings(data_dir=stack.data_dir)
    return TokenIssuer(settings.private_key_path.read_bytes(), issuer="vndx", audience="vndx-api")


def bearer(issuer: TokenIssuer, org: str, role: str) -> dict[str, str]:
    """The Authorization header of ``org`` acting as ``role``."""
    return {"Authorization": f"Bearer {issuer.issue(org, role)}"}  # type: ignore[arg-type]


def headers_for(stack: EmbeddedStack) -> Callable[[str, str], dict[str, str]]:
    """``as_(org, role)``: the Authorization header of ``org`` acting as ``role`` on ``stack``."""
    return partial(bearer, stack_issuer(stack))


@dataclass(frozen=True)
class Clients:
    """One HTTP client per service of the stack."""

    catalog: httpx.Client
    pricing: httpx.Client
    orders: httpx.Client
    access: httpx.Client
    audit: httpx.Client

    @classmethod
    def of(cls, stack: EmbeddedStack) -> Clients:
        def client(service: str, timeout: float = 30) -> httpx.Client:
            return httpx.Client(base_url=stack.url(service), timeout=timeout)

        # The catalog inspects the uploaded file before it answers.
        return cls(
            catalog=client("catalog", timeout=60),
            pricing=client("pricing"),
            orders=client("orders"),
            access=client("access"),
            audit=client("audit"),
        )


def publish_adult(
    catalog: httpx.Client,
    adult_dir: Path,
    provider: dict[str, str],
    operator: dict[str, str],
    **changes: Any,
) -> dict[str, Any]:
    """The Adult census under a new listing of ``provider`` with ``changes``: uploaded,
    approved by ``operator``, published. Returns the listing as first created."""
    created = catalog.post(
        "/v1/listings", json={**adult_listing(adult_dir), **changes}, headers=provider
    )
    assert created.status_code == 201, created.text
    listing: dict[str, Any] = created.json()
    catalog.post(
        f"/v1/listings/{listing['id']}/versions",
        content=(adult_dir / "adult.csv").read_bytes(),
        headers={**provider, "Content-Type": "text/csv"},
    ).raise_for_status()
    catalog.post(
        f"/v1/listings/{listing['id']}/review", json={"decision": "approve"}, headers=operator
    ).raise_for_status()
    catalog.post(f"/v1/listings/{listing['id']}/publish", headers=provider).raise_for_status()
    return listing


def verify(
    catalog: httpx.Client, org: str, operator: dict[str, str], registered_name: str, segment: str
) -> None:
    """The operator verifies ``org``: listings with sensitive columns quote only to such."""
    catalog.post(
        f"/v1/organisations/{org}/verification",
        json={"tax_code": "0100109106", "registered_name": registered_name, "segment": segment},
        headers=operator,
    ).raise_for_status()


def ask_quote(
    pricing: httpx.Client,
    buyer: dict[str, str],
    listing_id: str,
    purpose: str = "research",
    justification: str | None = None,
) -> httpx.Response:
    """Pricing's answer to a 30-day download quote of ``listing_id`` for ``purpose``."""
    request: dict[str, Any] = {
        "listing_id": listing_id,
        "product": "download",
        "duration_days": 30,
        "purpose": purpose,
    }
    if justification is not None:
        request["justification"] = justification
    return pricing.post("/v1/quotes", json=request, headers=buyer)


def quote_once_known(
    pricing: httpx.Client,
    buyer: dict[str, str],
    listing_id: str,
    *,
    purpose: str = "research",
    justification: str | None = None,
    segment: str | None = None,
    timeout: float = 120,
) -> dict[str, Any]:
    """The quote, once pricing has learnt the listing and the buyer's verification
    (``segment``: the quote must be priced for it, e.g. with the startup discount)."""

    def quoted() -> dict[str, Any] | None:
        response = ask_quote(pricing, buyer, listing_id, purpose, justification)
        # 404 / 403: pricing has not learnt the listing or the verification yet.
        assert response.status_code in (201, 403, 404), response.text
        if response.status_code != 201:
            return None
        quote: dict[str, Any] = response.json()
        return quote if segment is None or quote.get("segment") == segment else None

    found: dict[str, Any] = until("pricing to learn the listing and the buyer", quoted, timeout)
    return found


def place_order(
    orders: httpx.Client, body: dict[str, Any], buyer: dict[str, str]
) -> dict[str, Any]:
    """The order placed with ``body`` (``accepted_order_body``'s, keyed by its quote), once
    orders has learnt the listing."""

    def placed() -> dict[str, Any] | None:
        response = orders.post(
            "/v1/orders", json=body, headers={**buyer, "Idempotency-Key": body["quote"]["id"]}
        )
        # 404 / 409: orders has not learnt the listing or its policy yet.
        assert response.status_code in (200, 201, 404, 409), response.text
        return response.json() if response.status_code in (200, 201) else None

    order: dict[str, Any] = until("orders to learn the listing", placed)
    return order


def settle(orders: httpx.Client, order_id: str, operator: dict[str, str]) -> None:
    """The operator records the bank transfer of a local invoice (what a bank feed would do)."""
    settled = orders.post(f"/v1/orders/{order_id}/settle", headers=operator)
    assert settled.status_code == 200, settled.text


def pay(orders: httpx.Client, order: dict[str, Any], operator: dict[str, str]) -> None:
    """Settle ``order``'s local invoice unless it is paid already."""
    if order["status"] != "paid":
        assert order["payment"]["provider"] == "local"
        settle(orders, order["id"], operator)


def issued_grant(
    access: httpx.Client, buyer: dict[str, str], order_id: str, timeout: float = 120
) -> dict[str, Any]:
    """The buyer's grant for ``order_id``, once access has issued it."""

    def issued() -> dict[str, Any] | None:
        grants = access.get("/v1/grants", headers=buyer).json()["items"]
        mine = [g for g in grants if g["order_id"] == order_id and g["status"] == "issued"]
        return mine[0] if mine else None

    grant: dict[str, Any] = until("the grant to be issued", issued, timeout)
    return grant


@dataclass(frozen=True)
class Purchase:
    """What ``buy`` went through: the quote, the order as placed, the issued grant."""

    quote: dict[str, Any]
    order: dict[str, Any]
    grant: dict[str, Any]


def buy(
    api: Clients,
    listing_id: str,
    buyer: dict[str, str],
    operator: dict[str, str],
    *,
    justification: str,
    segment: str,
    grant_timeout: float = 120,
) -> Purchase:
    """A verified buyer's research download of ``listing_id``, from the quote to the grant:
    the order accepts the listing's policy, ``operator`` settles its local invoice."""
    quote = quote_once_known(
        api.pricing, buyer, listing_id, justification=justification, segment=segment
    )
    catalog_url = str(api.catalog.base_url)
    order = place_order(api.orders, accepted_order_body(catalog_url, quote, buyer), buyer)
    pay(api.orders, order, operator)
    return Purchase(quote, order, issued_grant(api.access, buyer, order["id"], grant_timeout))
