"""Limits: body sizes (413), per-organisation rates (429 + Retry-After), page sizes (422).

The guards are tried on a small app in process (fast, exact) and on the running
services: an oversized body on each service, a buyer over its quote rate, and
page sizes above each list's maximum.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.common.auth import TokenIssuer, TokenVerifier, ensure_keypair
from services.common.guards import GuardMiddleware, TokenBuckets
from services.common.settings import Settings
from tests.reliability.harness import RATE_QUOTES_PER_MINUTE, Market

SERVICES = ("catalog", "pricing", "orders", "access", "audit")


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> tuple[TokenIssuer, bytes]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("keys"))
    ensure_keypair(settings.private_key_path, settings.public_key_path)
    public = settings.public_key_path.read_bytes()
    signer = TokenIssuer(settings.private_key_path.read_bytes(), issuer="vndx", audience="vndx-api")
    return signer, public


def _app(public_key: bytes, clock: list[float], **limits: object) -> FastAPI:
    settings = Settings(**limits)  # type: ignore[arg-type]
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(public_key, issuer="vndx", audience="vndx-api")

    @app.post("/v1/quotes")
    async def quote(body: dict[str, object]) -> dict[str, object]:
        return {"ok": True}

    def org_of(scope: object, token: str) -> str | None:
        return app.state.token_verifier.verify(token).org  # type: ignore[no-any-return]

    app.add_middleware(
        GuardMiddleware,
        settings=settings,
        verify_org=org_of,
        buckets=TokenBuckets(clock=lambda: clock[0]),
    )
    return app


def test_each_organisation_has_its_own_allowance(issuer: tuple[TokenIssuer, bytes]) -> None:
    signer, public = issuer
    clock = [1000.0]
    client = TestClient(_app(public, clock, rate_quotes_per_minute=3))
    first = {"Authorization": f"Bearer {signer.issue('org-a', 'buyer')}"}
    second = {"Authorization": f"Bearer {signer.issue('org-b', 'buyer')}"}
    assert [client.post("/v1/quotes", json={}, headers=first).status_code for _ in range(3)] == [
        200
    ] * 3
    refused = client.post("/v1/quotes", json={}, headers=first)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "20"
    assert "org-a" in refused.json()["error"]["message"]
    assert client.post("/v1/quotes", json={}, headers=second).status_code == 200
    clock[0] += 20
    assert client.post("/v1/quotes", json={}, headers=first).status_code == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    issuer: tuple[TokenIssuer, bytes],
) -> None:
    _, public = issuer
    client = TestClient(_app(public, [0.0], max_request_bytes=2048))
    assert client.post("/v1/quotes", json={"a": "x" * 1000}).status_code == 200
    too_big = client.post("/v1/quotes", json={"a": "x" * 5000})
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "too_large"


def test_every_service_refuses_an_oversized_body(market: Market) -> None:
    buyer = market.headers(f"startup-{uuid.uuid4().hex[:8]}", "buyer")
    body = b'{"padding": "' + b"x" * (3 * 1024**2) + b'"}'
    for service in SERVICES:
        response = httpx.post(
            market.stack.url(service) + "/v1/orders",
            content=body,
            headers={**buyer, "Content-Type": "application/json"},
            timeout=30,
        )
        assert response.status_code == 413, service


def test_a_buyer_over_its_quote_rate_gets_429_with_retry_after(market: Market) -> None:
    buyer = market.headers(f"startup-{uuid.uuid4().hex[:8]}", "buyer")
    neighbour = market.headers(f"startup-{uuid.uuid4().hex[:8]}", "buyer")
    url = market.stack.url("pricing") + "/v1/quotes"
    with httpx.Client(timeout=30) as client:
        sent, refused = 0, None
        while refused is None and sent < 3 * RATE_QUOTES_PER_MINUTE:
            response = client.post(url, json={}, headers=buyer)
            sent += 1
            if response.status_code == 429:
                refused = response
        other = client.post(url, json={}, headers=neighbour)
    assert refused is not None
    assert sent > RATE_QUOTES_PER_MINUTE  # the whole allowance was served first
    assert int(refused.headers["Retry-After"]) >= 1
    assert other.status_code == 422  # the neighbour's allowance is untouched


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("catalog", "/v1/listings"),
        ("orders", "/v1/orders"),
        ("access", "/v1/grants"),
    ],
)
def test_page_sizes_above_the_maximum_are_refused_naming_the_field(
    market: Market, service: str, path: str
) -> None:
    operator = market.headers("vndx-ops", "operator")
    response = httpx.get(
        market.stack.url(service) + path,
        params={"page_size": 100_000},
        headers=operator,
        timeout=30,
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "page_size"
