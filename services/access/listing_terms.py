"""A listing's usage terms in access, and the agreement each grant rests on.

From every ``catalog.listings`` event access keeps the listing's status and its
usage-policy fields (allowed purposes, approval mode, ``min_k``,
``min_group_size``, ``buyer_may_terminate``); from ``order.paid`` the buyer's
declared purpose and the hash of the offer it accepted. When the grant is
issued, the ODRL agreement is built with ``services.common.usage_policy`` (the
same builder catalog and orders use) and stored on the grant in its RFC 8785
canonical form, so the stored bytes hash to ``agreement_sha256``.

Every function runs in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import rfc8785
from sqlmodel import Session, col, select

from services.access.adapters.terms_orm import GrantTermsRow, ListingTermsRow
from services.access.domain import PrivacyTargets
from services.access.domain.grant import Grant
from services.common import usage_policy
from services.contracts.catalog import ListingSnapshot
from services.contracts.orders import OrderPaid


def remember_terms(session: Session, listing: ListingSnapshot) -> None:
    """Keep the listing's latest status and usage-policy fields (idempotent)."""
    row = session.get(ListingTermsRow, listing.listing_id) or ListingTermsRow(
        listing_id=listing.listing_id, org=listing.org, status=listing.status, snapshot_json="{}"
    )
    row.org = listing.org
    row.status = listing.status
    row.latest_version = listing.latest_version.version if listing.latest_version else None
    row.allowed_purposes_json = json.dumps(list(listing.allowed_purposes))
    row.approval = listing.approval
    row.min_k = listing.min_k
    row.min_group_size = listing.min_group_size
    row.buyer_may_terminate = listing.buyer_may_terminate
    row.snapshot_json = listing.model_dump_json()
    row.updated_at = datetime.now(UTC)
    session.add(row)


def listing_terms(session: Session, listing_id: str) -> ListingTermsRow | None:
    return session.get(ListingTermsRow, listing_id)


def targets_for(session: Session, listing_id: str, defaults: PrivacyTargets) -> PrivacyTargets:
    """The policy's targets, with k raised (never lowered) by the listing's ``min_k``."""
    terms = listing_terms(session, listing_id)
    if terms is None or terms.min_k is None or terms.min_k <= defaults.k:
        return defaults
    return defaults.model_copy(update={"k": terms.min_k})


def sandbox_threshold(session: Session, listing_id: str, defaults: PrivacyTargets) -> int:
    """Fewest rows a sandbox aggregate may report: the listing's k, raised by its
    usage policy's ``min_group_size``."""
    k = targets_for(session, listing_id, defaults).k
    terms = listing_terms(session, listing_id)
    if terms is not None and terms.min_group_size is not None:
        return max(k, terms.min_group_size)
    return k


def buyer_may_terminate(session: Session, listing_id: str) -> bool:
    terms = listing_terms(session, listing_id)
    return terms.buyer_may_terminate if terms is not None else True


def remember_order(
    session: Session, grant_id: str, paid: OrderPaid, *, new_grant: bool = False
) -> None:
    """The purpose the buyer declared and the offer hash it accepted, for the agreement.

    ``new_grant``: the grant was opened in this transaction, so it has no terms to read.
    """
    existing = None if new_grant else session.get(GrantTermsRow, grant_id)
    row = existing or GrantTermsRow(grant_id=grant_id)
    row.purpose = paid.purpose
    row.policy_sha256 = paid.policy_sha256
    session.add(row)


def grant_terms(session: Session, grant_id: str) -> GrantTermsRow | None:
    return session.get(GrantTermsRow, grant_id)


def agreement_facts(
    session: Session, grant_ids: list[str]
) -> dict[str, tuple[str | None, str | None]]:
    """(purpose, agreement SHA-256) of each of these grants that has terms."""
    if not grant_ids:
        return {}
    rows = session.exec(
        select(GrantTermsRow).where(col(GrantTermsRow.grant_id).in_(grant_ids))
    ).all()
    return {r.grant_id: (r.purpose, r.agreement_sha256) for r in rows}


@dataclass(frozen=True)
class MadeAgreement:
    sha256: str
    purpose: str | None


def _snapshot(session: Session, grant: Grant) -> ListingSnapshot:
    terms = listing_terms(session, grant.listing_id)
    if terms is not None:
        return ListingSnapshot.model_validate_json(terms.snapshot_json)
    # A listing announced before access kept its terms: the policy's defaults.
    return ListingSnapshot(
        listing_id=grant.listing_id,
        org=grant.publisher_org,
        status="published",
        title_vi="",
        title_en="",
        theme="",
        provinces=[],
        update_frequency="",
        products=[grant.product],
        list_price=None,
        columns=[],
        latest_version=None,
    )


def make_agreement(session: Session, grant: Grant, iri_base: str) -> MadeAgreement:
    """Build the issued grant's ODRL agreement and store it on the grant."""
    assert grant.issued_at is not None and grant.expires_at is not None
    row = grant_terms(session, grant.id) or GrantTermsRow(grant_id=grant.id)
    document = usage_policy.agreement(
        _snapshot(session, grant),
        iri_base,
        grant_id=grant.id,
        buyer_org=grant.buyer_org,
        purpose=row.purpose,
        issued_at=grant.issued_at,
        expires_at=grant.expires_at,
        listing_version=grant.listing_version,
        accepted_offer_sha256=row.policy_sha256,
    )
    canonical = rfc8785.dumps(document)
    row.agreement_json = canonical.decode("utf-8")
    row.agreement_sha256 = hashlib.sha256(canonical).hexdigest()
    session.add(row)
    return MadeAgreement(row.agreement_sha256, row.purpose)


def record_termination(
    session: Session, grant_id: str, by_org: str, by_role: str, refund: str, at: datetime
) -> None:
    row = grant_terms(session, grant_id) or GrantTermsRow(grant_id=grant_id)
    row.terminated_by_org, row.terminated_by_role = by_org, by_role
    row.refund, row.terminated_at = refund, at
    session.add(row)
