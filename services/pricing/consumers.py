"""Catalog events -> what pricing knows of listings, and a valuation of each new version.

Every listing event carries the whole public snapshot, so the four types share one
handler; organisation verifications (``catalog.organisations``) set the segment a buyer's
discounts rest on. The consumer loop applies each event once (inbox); a version already valued
under the policy in effect is not valued again (unique key), so redelivery never counts twice.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlmodel import Session

from services.common.consumer import Handler
from services.common.runtime import ConsumerSpec
from services.contracts.catalog import (
    ListingPublished,
    ListingRetired,
    ListingUpdated,
    ListingVersionAdded,
    OrganisationVerified,
)
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.topics import CATALOG_LISTINGS, CATALOG_ORGANISATIONS
from services.pricing import listings, organisations, policy_book, valuations
from services.pricing.context import PricingContext

log = logging.getLogger(__name__)

GROUP_ID = "pricing"
LISTING_EVENTS = (ListingPublished, ListingUpdated, ListingVersionAdded, ListingRetired)


def listing_handler(ctx: PricingContext) -> Handler:
    def apply(session: Session, envelope: Envelope, payload: EventPayload) -> None:
        assert isinstance(payload, LISTING_EVENTS)
        snapshot = payload.listing
        changed_version = listings.remember_snapshot(session, snapshot, envelope.time)
        ctx.lookups.forget_listing(snapshot.listing_id)
        if not changed_version:
            return
        assert snapshot.latest_version is not None
        listing = listings.find_listing(session, snapshot.listing_id)
        version = listings.find_version(
            session, snapshot.listing_id, snapshot.latest_version.version
        )
        now = ctx.clock()
        policy_row = policy_book.in_effect(session, now)
        if listing is None or version is None or policy_row is None:
            return
        try:
            facts = listings.dataset_facts(listing, version)
        except ValidationError as error:
            log.warning("listing %s cannot be valued: %s", snapshot.listing_id, error)
            return
        valuations.value_version(session, ctx.policies.parsed(policy_row), facts, now)

    return apply


def verification_handler(ctx: PricingContext) -> Handler:
    """An operator verified an organisation: its segment counts from now on."""

    def apply(session: Session, envelope: Envelope, payload: EventPayload) -> None:
        assert isinstance(payload, OrganisationVerified)
        organisations.remember_verification(session, payload)
        ctx.lookups.forget_organisation(payload.code)

    return apply


def consumer_specs(ctx: PricingContext) -> list[ConsumerSpec]:
    handler = listing_handler(ctx)
    handlers = {event.event_type: handler for event in LISTING_EVENTS}
    handlers[OrganisationVerified.event_type] = verification_handler(ctx)
    return [
        ConsumerSpec(
            group_id=GROUP_ID,
            topics=[CATALOG_LISTINGS, CATALOG_ORGANISATIONS],
            handlers=handlers,
            background=True,
        )
    ]
