"""Reading valuations: anyone for published or retired listings, the publisher and operators always."""

from __future__ import annotations

from typing import Any

from services.common.auth import Principal
from services.common.db import reading
from services.pricing import listings, valuations
from services.pricing.context import PricingContext
from services.pricing.errors import Refused


def listing_valuations(
    ctx: PricingContext, viewer: Principal | None, listing_id: str
) -> list[dict[str, Any]]:
    with reading(ctx.engine) as session:
        listing = listings.find_listing(session, listing_id)
        rows = valuations.valuations_of(session, listing_id) if listing else []
    visible = listing is not None and (
        listing.status != "draft"
        or (viewer is not None and (viewer.is_operator() or viewer.org == listing.org))
    )
    if not visible:
        raise Refused(404, "not_found", f"listing {listing_id} not found", field="listing_id")
    return [valuations.valuation_view(row) for row in rows]
