"""Organisations: who they are, and the verification that pricing's segment discounts rest on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import get_args

from services.catalog.adapters.orm import OrganisationRow, ensure_organisation
from services.catalog.domain.errors import InvalidListing
from services.catalog.domain.vn_identifiers import is_tax_code
from services.catalog.handlers import SOURCE, CatalogContext, NotFound
from services.common.auth import Principal
from services.common.db import reading, transaction
from services.common.outbox import add_event
from services.contracts.catalog import OrganisationVerified, Segment

SEGMENTS: tuple[str, ...] = get_args(Segment)


@dataclass(frozen=True)
class OrganisationView:
    code: str
    name: str
    verified: bool
    segment: str | None
    registered_name: str | None
    tax_code: str | None
    verified_at: datetime | None


def _view(row: OrganisationRow, *, with_tax_code: bool) -> OrganisationView:
    return OrganisationView(
        code=row.code,
        name=row.name,
        verified=row.verified_at is not None,
        segment=row.segment,
        registered_name=row.registered_name,
        tax_code=row.tax_code if with_tax_code else None,
        verified_at=row.verified_at.replace(tzinfo=UTC)
        if row.verified_at and row.verified_at.tzinfo is None
        else row.verified_at,
    )


def verify_organisation(
    ctx: CatalogContext,
    principal: Principal,
    code: str,
    tax_code: str,
    registered_name: str,
    segment: str,
) -> OrganisationView:
    """Record an operator's check of an organisation's registration and segment."""
    if not is_tax_code(tax_code):
        raise InvalidListing(
            "not a valid Vietnamese tax code (10 digits, or 13 as 10-3, with its check digit)",
            field="tax_code",
        )
    if segment not in SEGMENTS:
        raise InvalidListing(f"segment must be one of {', '.join(SEGMENTS)}", field="segment")
    now = datetime.now(UTC)
    with transaction(ctx.engine) as session:
        row = ensure_organisation(session, code, registered_name)
        row.tax_code = tax_code
        row.registered_name = registered_name
        row.segment = segment
        row.verified_at = now
        row.verified_by = principal.org
        session.add(row)
        add_event(
            session,
            OrganisationVerified(
                code=code,
                registered_name=registered_name,
                segment=segment,
                verified_by=principal.org,
                verified_at=now,
            ),
            source=SOURCE,
        )
        view = _view(row, with_tax_code=True)
    ctx.wake_relay()
    return view


def organisation(ctx: CatalogContext, principal: Principal | None, code: str) -> OrganisationView:
    """Public facts of an organisation; its tax code only for itself and operators."""
    with reading(ctx.engine) as session:
        row = session.get(OrganisationRow, code)
        if row is None or row.deleted_at is not None:
            raise NotFound(code)
        own = principal is not None and (principal.is_operator() or principal.org == code)
        return _view(row, with_tax_code=own)
