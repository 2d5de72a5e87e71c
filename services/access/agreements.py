"""Serve a grant's ODRL agreement to the parties to it and to those who oversee them.

The buyer, the publishing organisation, regulators and operators may read it;
anyone else gets 404. The body is the stored RFC 8785 canonical form, so its
SHA-256 is the ``agreement_sha256`` that ``grant.issued`` carried to the ledger.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.access import listing_terms
from services.access.adapters.orm import GrantRepository
from services.access.domain.grant import GrantNotReady
from services.access.handlers import AccessContext, Caller, NotFound
from services.common.db import reading


@dataclass(frozen=True)
class StoredAgreement:
    document: str
    sha256: str


def get_agreement(ctx: AccessContext, caller: Caller, grant_id: str) -> StoredAgreement:
    try:
        uuid.UUID(grant_id)
    except ValueError as exc:
        raise NotFound(grant_id) from exc
    with reading(ctx.engine) as session:
        row = GrantRepository(session).row(grant_id)
        parties = (row.buyer_org, row.publisher_org) if row is not None else ()
        if row is None or (caller.org not in parties and not caller.oversees()):
            raise NotFound(grant_id)
        terms = listing_terms.grant_terms(session, grant_id)
        if terms is None or terms.agreement_json is None or terms.agreement_sha256 is None:
            if row.status != "pending":
                raise GrantNotReady(f"the grant was never issued ({row.status}): no agreement")
            raise GrantNotReady("the agreement is made when the grant is issued; try again shortly")
        return StoredAgreement(terms.agreement_json, terms.agreement_sha256)


def facts_of(ctx: AccessContext, grant_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """(purpose, agreement SHA-256) by grant id, for the grant views."""
    with reading(ctx.engine) as session:
        return listing_terms.agreement_facts(session, grant_ids)
