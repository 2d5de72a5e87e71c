"""End a grant early under its agreement: for breach, by legal order, or by the buyer.

Termination closes the grant exactly as revocation does — the state change and
``grant.terminated`` commit together through the outbox, then the extract
objects are deleted so presigned URLs issued earlier stop working — and the
event carries what orders needs to settle the refund: the refund kind and the
remaining and total seconds of the paid period.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlmodel import Session, col, func, select

from services.access import listing_terms
from services.access.adapters.orm import GrantRepository, GrantRow, to_grant
from services.access.domain.grant import Grant
from services.access.domain.termination import Refund, check_termination, party_of
from services.access.handlers import AccessContext, Caller, NotFound, close_grant
from services.common.db import transaction
from services.contracts import access as events
from services.contracts.envelope import EventPayload


def terminate_grant(
    ctx: AccessContext,
    caller: Caller,
    grant_id: str,
    reason: str,
    refund: Refund,
    now: datetime | None = None,
) -> Grant:
    """Terminate the grant if the caller may, with the refund its role allows.

    Raises ``NotFound`` for a caller with no standing towards the grant,
    ``TerminationRefused`` for a refund (or a buyer's termination) the policy does
    not allow, ``GrantGone`` for a grant already ended.
    """
    now = now or datetime.now(UTC)
    try:
        uuid.UUID(grant_id)
    except ValueError as exc:
        raise NotFound(grant_id) from exc

    def load(session: Session) -> GrantRow:
        row = GrantRepository(session).row(grant_id, for_update=True)
        if row is None:
            raise NotFound(grant_id)
        return row

    def terminate(session: Session, grant: Grant) -> EventPayload:
        party = party_of(caller.org, caller.role, grant.publisher_org, grant.buyer_org)
        if party is None:
            raise NotFound(grant_id)
        check_termination(
            party,
            refund,
            buyer_may_terminate=listing_terms.buyer_may_terminate(session, grant.listing_id),
        )
        remaining, period = grant.terminate(reason, now)
        listing_terms.record_termination(session, grant.id, caller.org, caller.role, refund, now)
        return events.GrantTerminated(
            grant_id=grant.id,
            buyer_org=grant.buyer_org,
            listing_id=grant.listing_id,
            order_id=grant.order_id,
            publisher_org=grant.publisher_org,
            by_org=caller.org,
            by_role=caller.role,
            reason=reason,
            refund=refund,
            remaining_seconds=remaining,
            period_seconds=period,
        )

    return close_grant(ctx, load, terminate)


def published_grants(
    ctx: AccessContext, caller: Caller, offset: int, limit: int
) -> tuple[list[Grant], int]:
    """Grants on the caller's organisation's listings, newest first (those it may end)."""
    with transaction(ctx.engine) as session:
        mine = GrantRow.publisher_org == caller.org
        rows = session.exec(
            select(GrantRow)
            .where(mine)
            .order_by(col(GrantRow.created_at).desc(), col(GrantRow.id))
            .offset(offset)
            .limit(limit)
        ).all()
        total = session.exec(select(func.count()).select_from(GrantRow).where(mine)).one()
        return [to_grant(r) for r in rows], int(total)
