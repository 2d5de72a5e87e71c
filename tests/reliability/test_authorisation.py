"""Broken object-level authorisation and forged tokens, on every service's API.

Every route of catalog, pricing, orders, access and audit that takes an id in
its path (read from each service's ``/openapi.json``) is called on another
organisation's object as a buyer, as a provider and anonymously: each call is
refused (404 for others' objects, 403 for the wrong role, 401 without a token).
Forged or stale tokens (``alg: none``, HS256 signed with the public key, another
key, wrong audience or issuer, expired, not yet valid) get 401 on every service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.settings import Settings
from tests.reliability.harness import Market, small_listing, until
from tests.reliability.invariants import rows

SERVICES = ("catalog", "pricing", "orders", "access", "audit")
#: Public information: anyone may read it (organisations, pricing policies).
PUBLIC = {("GET", "/v1/organisations/{code}"), ("GET", "/v1/policies/{version}")}
#: Signed-in callers see more, but anonymous readers of a draft get 404, not 401.
OPTIONAL_SIGN_IN = {
    ("GET", "/v1/listings/{listing_id}"),
    ("GET", "/v1/listings/{listing_id}/policy"),
    ("GET", "/v1/listings/{listing_id}/valuations"),
}
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/listings/{listing_id}/review"): {"decision": "approve"},
    ("POST", "/v1/organisations/{code}/verification"): {
        "tax_code": "0101234567",
        "registered_name": "Taken over",
    },
    ("POST", "/v1/orders/{order_id}/settle"): {},
    ("POST", "/v1/orders/{order_id}/approval"): {"decision": "approve", "note": "taken over"},
    ("POST", "/v1/grants/{grant_id}/download"): {"format": "csv"},
    ("POST", "/v1/grants/{grant_id}/query"): {"sql": "SELECT count(*) FROM extract"},
    ("POST", "/v1/grants/{grant_id}/revoke"): {"reason": "taken over"},
    ("POST", "/v1/grants/{grant_id}/terminate"): {"reason": "taken over", "refund": "none"},
}
#: One signed-in route per service to try forged tokens on.
PROBES = {
    "catalog": "/v1/listings/mine",
    "pricing": "/v1/quotes/public-key",
    "orders": "/v1/orders",
    "access": "/v1/grants",
    "audit": "/v1/audit/records",
}


@dataclass(frozen=True)
class Victim:
    """Objects of one buyer and one provider, by the path parameter that names them."""

    ids: dict[str, str]


@pytest.fixture(scope="module")
def victim(market: Market, tmp_path_factory: pytest.TempPathFactory) -> Victim:
    stack = market.stack
    order = market.buy_once()
    assert order is not None
    provider = market.headers(market.provider_org, "provider")
    draft_file = tmp_path_factory.mktemp("draft") / "draft.csv"
    draft = httpx.post(
        stack.url("catalog") + "/v1/listings",
        json=small_listing(draft_file, 20),
        headers=provider,
        timeout=30,
    )
    assert draft.status_code == 201, draft.text

    def grant_and_seq() -> tuple[str, str] | None:
        found = rows(
            stack.data_dir / "audit.db",
            "SELECT grant_id, seq FROM audit_ledger WHERE order_id = '{}'"
            " AND grant_id IS NOT NULL".format(order["id"]),
        )
        return (str(found[0][0]), str(found[0][1])) if found else None

    grant_id, seq = until("the victim's grant to reach the ledger", grant_and_seq)
    metadata = {k: v for k, v in small_listing(draft_file, 20).items() if k != "columns"}
    BODIES[("PUT", "/v1/listings/{listing_id}")] = {**metadata, "title_en": "Taken over"}
    return Victim(
        {
            "listing_id": str(draft.json()["id"]),
            "version": "1",
            "code": market.provider_org,
            "quote_id": str(order["quote_id"]),
            "order_id": str(order["id"]),
            "grant_id": grant_id,
            "seq": seq,
        }
    )


def _routes(base: str) -> Iterator[tuple[str, str]]:
    spec = httpx.get(base + "/openapi.json", timeout=30).json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if any(p["in"] == "path" for p in operation.get("parameters", [])):
                yield method.upper(), path


def test_no_route_with_an_id_serves_another_organisations_object(
    market: Market, victim: Victim
) -> None:
    callers = {
        "other buyer": market.headers(f"startup-{uuid.uuid4().hex[:8]}", "buyer"),
        "other provider": market.headers(f"tinh-{uuid.uuid4().hex[:6]}", "provider"),
        "anonymous": {},
    }
    tried, wrong = 0, []
    for service in SERVICES:
        base = market.stack.url(service)
        for method, path in _routes(base):
            if (method, path) in PUBLIC:
                continue
            url = base + path.format(**victim.ids)
            body = BODIES.get((method, path))
            for who, headers in callers.items():
                response = httpx.request(
                    method,
                    url,
                    json=body if method in ("POST", "PUT") else None,
                    headers=headers,
                    timeout=30,
                )
                tried += 1
                if who == "anonymous":
                    allowed = {401, 404} if (method, path) in OPTIONAL_SIGN_IN else {401}
                else:
                    allowed = {403, 404}
                if response.status_code not in allowed:
                    wrong.append(f"{service} {method} {path} as {who}: {response.status_code}")
    assert tried >= 60
    assert wrong == []


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("catalog", "/v1/listings/{listing_id}"),
        ("pricing", "/v1/quotes/{quote_id}"),
        ("orders", "/v1/orders/{order_id}"),
        ("access", "/v1/grants/{grant_id}"),
        ("audit", "/v1/audit/records/{seq}"),
    ],
)
def test_the_objects_tried_exist_for_an_operator(
    market: Market, victim: Victim, service: str, path: str
) -> None:
    operator = market.headers("vndx-ops", "operator")
    url = market.stack.url(service) + path.format(**victim.ids)
    assert httpx.get(url, headers=operator, timeout=30).status_code == 200


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "vndx",
        "aud": "vndx-api",
        "sub": "intruder",
        "org": "intruder-org",
        "role": "operator",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(changes)
    return claims


def _forged_tokens(keys_dir: Path) -> dict[str, str]:
    settings = Settings(data_dir=keys_dir)
    private = serialization.load_pem_private_key(
        settings.private_key_path.read_bytes(), password=None
    )
    public_pem = settings.public_key_path.read_bytes()

    def signed(claims: dict[str, Any]) -> str:
        return jwt.encode(claims, private, algorithm="EdDSA")  # type: ignore[arg-type]

    head_none = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    head_hs = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims()).encode())
    mac = hmac.new(public_pem, f"{head_hs}.{body}".encode(), hashlib.sha256).digest()
    now = int(time.time())
    return {
        "alg none": f"{head_none}.{body}.",
        "HS256 with the public key": f"{head_hs}.{body}.{_b64(mac)}",
        "another key": jwt.encode(_claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA"),
        "wrong audience": signed(_claims(aud="someone-else")),
        "wrong issuer": signed(_claims(iss="https://evil.example")),
        "expired": signed(_claims(iat=now - 7200, nbf=now - 7200, exp=now - 3600)),
        "not yet valid": signed(_claims(nbf=now + 3600, exp=now + 7200)),
        "no expiry": signed({k: v for k, v in _claims().items() if k != "exp"}),
        "unknown role": signed(_claims(role="superuser")),
        "garbage": "not.a.token",
    }


def test_forged_and_stale_tokens_are_refused_everywhere(market: Market) -> None:
    stack = market.stack
    operator = market.headers("vndx-ops", "operator")
    for service, path in PROBES.items():
        genuine = httpx.get(stack.url(service) + path, headers=operator, timeout=30)
        assert genuine.status_code == 200, f"{service}: {genuine.status_code}"
    accepted = []
    for name, token in _forged_tokens(stack.data_dir).items():
        for service, path in PROBES.items():
            if service == "pricing":
                path = "/v1/quotes/" + str(uuid.uuid4())
            response = httpx.get(
                stack.url(service) + path,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            if response.status_code != 401:
                accepted.append(f"{name} on {service}: {response.status_code}")
    assert accepted == []
