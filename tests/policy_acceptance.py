"""The buyer's step before ordering: read the listing's usage policy and accept it.

``POST /v1/orders`` needs ``accept_policy``, the RFC 8785 SHA-256 of the ODRL offer
``GET /v1/listings/{id}/policy`` returns. Every test or tool that places orders builds
its body here, so the step is written once.
"""

from __future__ import annotations

from typing import Any

import httpx

from services.common.usage_policy import policy_sha256


def policy_path(listing_id: str) -> str:
    """Where the catalog serves a listing's usage policy (the ``odrl:Offer``)."""
    return f"/v1/listings/{listing_id}/policy"


def order_body(quote: dict[str, Any], policy: dict[str, Any]) -> dict[str, Any]:
    """The order for ``quote``, accepting ``policy`` exactly as the catalog returned it."""
    return {"quote": quote, "accept_policy": policy_sha256(policy)}


def accepted_order_body(
    catalog_url: str, quote: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """Fetch the quoted listing's policy from the catalog and accept it in the order."""
    response = httpx.get(
        catalog_url.rstrip("/") + policy_path(str(quote["listing_id"])),
        headers=headers,
        timeout=30,
    )
    response.raise_for_status()
    policy: dict[str, Any] = response.json()
    return order_body(quote, policy)
