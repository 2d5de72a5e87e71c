"""Announce listings with usage-policy terms and pay for them with a declared purpose.

The catalog's and orders' parts are played as in ``conftest``: the raw file goes
where the catalog puts it, ``listing.published`` carries the snapshot (here with
``min_k``, ``min_group_size``, ``buyer_may_terminate``, purposes, approval), and
``order.paid`` carries the purpose and the hash of the offer the buyer accepted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlmodel import Session

from services.access.adapters.terms_orm import ListingTermsRow
from services.access.handlers import AccessContext
from services.common import usage_policy
from services.contracts.catalog import ListingSnapshot
from services.contracts.orders import OrderPaid
from tests.integration.access.conftest import Exchange


def announce(
    exchange: Exchange,
    org: str,
    columns: list[dict[str, Any]],
    raw: Path,
    *,
    status: str = "published",
    **terms: Any,
) -> ListingSnapshot:
    """Put ``raw`` under ``raw/`` and announce the listing with ``terms`` in its snapshot;
    returns once access has learnt it."""
    snapshot = exchange.announce_listing(org, columns, raw, status=status, **terms)
    _wait_until_known(exchange, snapshot.listing_id)
    return snapshot


def _wait_until_known(exchange: Exchange, listing_id: str, timeout_s: float = 60.0) -> None:
    """Until access has consumed the listing's event."""
    ctx: AccessContext = exchange.client.app.state.access  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with Session(ctx.engine) as session:
            if session.get(ListingTermsRow, listing_id) is not None:
                return
        time.sleep(0.1)
    raise AssertionError(f"access never learnt of listing {listing_id}")


def paid_for(
    exchange: Exchange,
    buyer: str,
    listing: ListingSnapshot,
    *,
    purpose: str = "research",
    product: str = "download",
    days: int = 30,
) -> OrderPaid:
    """``order.paid`` for a buyer who accepted the listing's offer for ``purpose``."""
    offer = usage_policy.offer(listing, exchange.settings.iri_base)
    order = exchange.paid(buyer, listing.listing_id, product=product, days=days)
    return order.model_copy(
        update={
            "publisher_org": listing.org,
            "purpose": purpose,
            "justification": "a study of household incomes",
            "policy_sha256": usage_policy.policy_sha256(offer),
        }
    )
