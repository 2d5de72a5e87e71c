"""A listing's snapshot, as the catalog's events carry it, for tests that need one.

Published, no columns, no version, download only, unless the test says otherwise:
the fields a test names are the ones it relies on.
"""

from __future__ import annotations

from typing import Any

from services.contracts.catalog import ListingSnapshot


def bare_snapshot(listing_id: str, **fields: Any) -> ListingSnapshot:
    """``listing_id``'s snapshot with ``fields`` over the defaults."""
    defaults: dict[str, Any] = {
        "org": "gso",
        "status": "published",
        "title_vi": "Thử",
        "title_en": "Test",
        "theme": "population",
        "provinces": [],
        "update_frequency": "once",
        "products": ["download"],
        "list_price": None,
        "columns": [],
        "latest_version": None,
    }
    return ListingSnapshot(listing_id=listing_id, **{**defaults, **fields})
