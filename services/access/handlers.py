"""Use cases of the access service: each opens a transaction, applies the grant's
rules, saves, and stages its event in the outbox in the same commit.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, func, select

from services.access import listing_terms
from services.access.adapters.extracts import ExtractStore, extract_prefix
from services.access.adapters.orm import (
    DownloadUrlRow,
    GrantRepository,
    GrantRow,
    ListingVersionRow,
    to_grant,
)
from services.access.adapters.sandbox import QueryResult, QueryTimedOut, run_query
from services.access.adapters.sql_policy import CheckedQuery, QueryRefused, check_query
from services.access.domain import AnonymisationFailed, PrivacyTargets, derive_grant_key
from services.access.domain.grant import Grant, GrantError, MeasuredPrivacy
from services.access.domain.listing_rules import plan_from_columns
from services.common.db import exclusive_claim, reading, transaction
from services.common.observability import continued_trace, current_traceparent
from services.common.outbox import add_event
from services.common.settings import Settings
from services.contracts import access as events
from services.contracts.catalog import ListingSnapshot
from services.contracts.envelope import EventPayload
from services.contracts.orders import OrderPaid

SOURCE = "/vndx/access"
MAX_BUILD_ATTEMPTS = 5
OVERSEERS = ("operator", "regulator")
log = logging.getLogger(__name__)


class NotFound(Exception):
    """No such grant, or not one the caller may see."""


class TooManyUrls(Exception):
    """The per-minute limit of download URLs for a grant is reached."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many download URLs; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class SandboxRefusal(Exception):
    """A refused or failed sandbox query (already audited)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Caller:
    """Who acts: organisation, role and the token's subject (for audit)."""

    org: str
    role: str
    subject: str

    def oversees(self) -> bool:
        return self.role in OVERSEERS


@dataclass
class AccessContext:
    engine: Engine
    extracts: ExtractStore
    settings: Settings
    wake_relay: Callable[[], None] = lambda: None
    #: The prefixes the bucket policy denies now (see ``deny_closed_reads``).
    denied_prefixes: list[str] = field(default_factory=list)

    def targets(self) -> PrivacyTargets:
        return PrivacyTargets(
            k=self.settings.grant_default_k,
            l=self.settings.grant_default_l,
            max_suppression=self.settings.max_suppression,
        )


def _now() -> datetime:
    return datetime.now(UTC)


# --- events consumed -------------------------------------------------------------


def remember_listing(session: Session, listing: ListingSnapshot) -> None:
    """Keep the schema and raw object of the listing's latest version (idempotent)."""
    version = listing.latest_version
    if version is None:
        return
    columns = json.dumps([c.model_dump() for c in listing.columns])
    row = session.get(ListingVersionRow, (listing.listing_id, version.version))
    if row is None:
        row = ListingVersionRow(
            listing_id=listing.listing_id,
            version=version.version,
            org=listing.org,
            object_key=version.object_key,
            format=version.format,
            columns_json=columns,
        )
    row.object_key, row.format, row.columns_json = version.object_key, version.format, columns
    row.updated_at = _now()
    session.add(row)


def open_grant(
    session: Session, paid: OrderPaid, now: datetime | None = None, *, iri_base: str
) -> None:
    """A paid order: renew the grant it names, or open a pending grant for it."""
    now = now or _now()
    repo = GrantRepository(session)
    if repo.by_order(paid.order_id) is not None:
        return
    if paid.renews_grant_id and _renew(session, paid, now, iri_base):
        return
    grant = Grant(
        id=str(uuid.uuid4()),
        order_id=paid.order_id,
        listing_id=paid.listing_id,
        listing_version=paid.listing_version,
        publisher_org=paid.publisher_org,
        buyer_org=paid.buyer_org,
        product="sandbox" if paid.product == "sandbox" else "download",
        duration_days=paid.duration_days,
        created_at=now,
    )
    repo.save(grant).traceparent = current_traceparent()
    listing_terms.remember_order(session, grant.id, paid, new_grant=True)


def _renew(session: Session, paid: OrderPaid, now: datetime, iri_base: str) -> bool:
    repo = GrantRepository(session)
    row = repo.row(str(paid.renews_grant_id), for_update=True)
    if row is None or row.buyer_org != paid.buyer_org or row.listing_id != paid.listing_id:
        return False
    grant = to_grant(row)
    try:
        expires_at = grant.renew(paid.duration_days, now)
    except GrantError:
        return False  # a closed or unbuilt grant is not extended: the order opens a new one
    repo.save(grant, row)
    # The renewal order's purpose and accepted policy, and the longer period, are a new
    # agreement: the ledger gets its hash like an issuance's.
    listing_terms.remember_order(session, grant.id, paid)
    agreed = listing_terms.make_agreement(session, grant, iri_base)
    add_event(
        session,
        events.GrantRenewed(
            grant_id=grant.id,
            buyer_org=grant.buyer_org,
            listing_id=grant.listing_id,
            order_id=paid.order_id,
            expires_at=expires_at,
            agreement_sha256=agreed.sha256,
        ),
        source=SOURCE,
    )
    return True


# --- building extracts -----------------------------------------------------------


def pending_grant_ids(ctx: AccessContext) -> list[str]:
    with reading(ctx.engine) as session:
        return GrantRepository(session).ids_where(GrantRow.status == "pending")


def build_pending(ctx: AccessContext, pool: Executor | None = None) -> int:
    """Build every pending grant whose listing version is known; return how many settled.

    With ``pool``, several at once: a build mostly waits on the object store and on
    the write lock, so one thread would leave the rest of the work queued behind it.
    """
    grant_ids = pending_grant_ids(ctx)
    # One grant (the usual case at a steady rate) is built here, without a thread hop.
    run = map if pool is None or len(grant_ids) < 2 else pool.map
    return sum(run(functools.partial(_claim_and_build, ctx), grant_ids))


def _claim_and_build(ctx: AccessContext, grant_id: str) -> int:
    # Replicas share one database: whoever claims a grant builds it, the others move on.
    with exclusive_claim(ctx.engine, f"access.build:{grant_id}") as mine:
        if not mine:
            return 0
        try:
            return int(build_grant(ctx, grant_id))
        except Exception:
            log.warning("building grant %s failed; will retry", grant_id, exc_info=True)
            _count_attempt(ctx, grant_id)
            return 0


@dataclass(frozen=True)
class _BuildJob:
    """What building one pending grant needs, read in one transaction."""

    grant: Grant
    traceparent: str | None
    version: ListingVersionRow | None
    targets: PrivacyTargets


def build_grant(ctx: AccessContext, grant_id: str) -> bool:
    """Build one pending grant's extract and issue it, or fail it; False if it must wait.

    The build runs in the paid order's trace, so ``grant.issued`` continues it.
    """
    job = _build_job(ctx, grant_id)
    if job is None:
        return False
    with continued_trace(job.traceparent):
        return _build_grant(ctx, job)


def _build_job(ctx: AccessContext, grant_id: str) -> _BuildJob | None:
    with reading(ctx.engine) as session:
        row = GrantRepository(session).row(grant_id)
        if row is None or row.status != "pending":
            return None
        grant = to_grant(row)
        version = session.get(ListingVersionRow, (grant.listing_id, grant.listing_version))
        targets = listing_terms.targets_for(session, grant.listing_id, ctx.targets())
        return _BuildJob(grant, row.traceparent, version, targets)


def _build_grant(ctx: AccessContext, job: _BuildJob) -> bool:
    grant_id, version = job.grant.id, job.version
    if version is None:
        waited = (_now() - job.grant.created_at).total_seconds()
        if waited < ctx.settings.grant_listing_wait_s:
            return False
        _fail(ctx, grant_id, "listing_unknown: the catalog never announced this listing version")
        return True
    master = ctx.settings.pseudonym_master_key.get_secret_value().encode()
    try:
        plan = plan_from_columns(json.loads(version.columns_json))
        built = ctx.extracts.build(
            grant_id,
            version.object_key,
            version.format,
            plan,
            job.targets,
            derive_grant_key(master, grant_id),
        )
    except AnonymisationFailed as exc:
        _fail(ctx, grant_id, f"{exc.reason}: {exc.detail}")
        return True
    figures = built.figures
    privacy = MeasuredPrivacy(
        k=figures.k,
        l_diversity=figures.l,
        suppression_share=figures.suppression_share,
        information_loss=figures.information_loss,
    )
    with transaction(ctx.engine) as session:
        repo = GrantRepository(session)
        row = repo.row(grant_id, for_update=True)
        status = None if row is None else row.status
        if row is not None and status == "pending":
            grant = to_grant(row)
            grant.issue(privacy, built.rows_out, built.objects, _now())
            repo.save(grant, row)
            agreed = listing_terms.make_agreement(session, grant, ctx.settings.iri_base)
            add_event(session, _issued_event(grant, agreed), source=SOURCE)
    ctx.wake_relay()
    if status not in ("pending", "issued"):
        # The grant was closed (and possibly purged) while its extract was uploading.
        # An issued one was issued by another replica over the same keys: its
        # extract is what was just written, and must stay.
        ctx.extracts.purge(grant_id)
    return status == "pending"


def _issued_event(grant: Grant, agreed: listing_terms.MadeAgreement) -> events.GrantIssued:
    assert grant.privacy and grant.issued_at and grant.expires_at and grant.rows is not None
    return events.GrantIssued(
        grant_id=grant.id,
        buyer_org=grant.buyer_org,
        listing_id=grant.listing_id,
        order_id=grant.order_id,
        publisher_org=grant.publisher_org,
        listing_version=grant.listing_version,
        product=grant.product,
        issued_at=grant.issued_at,
        expires_at=grant.expires_at,
        privacy=events.PrivacyFigures(**grant.privacy.__dict__),
        rows=grant.rows,
        objects=grant.objects,
        agreement_sha256=agreed.sha256,
        purpose=agreed.purpose,
    )


def _fail(ctx: AccessContext, grant_id: str, reason: str) -> None:
    with transaction(ctx.engine) as session:
        repo = GrantRepository(session)
        row = repo.row(grant_id, for_update=True)
        if row is None or row.status != "pending":
            return
        grant = to_grant(row)
        grant.fail(reason[:1000])
        repo.save(grant, row)
        add_event(
            session,
            events.GrantFailed(
                grant_id=grant.id,
                buyer_org=grant.buyer_org,
                listing_id=grant.listing_id,
                order_id=grant.order_id,
                reason=reason[:1000],
            ),
            source=SOURCE,
        )
    ctx.wake_relay()


def _count_attempt(ctx: AccessContext, grant_id: str) -> None:
    with transaction(ctx.engine) as session:
        row = GrantRepository(session).row(grant_id, for_update=True)
        if row is None:
            return
        row.build_attempts += 1
        attempts = row.build_attempts
        session.add(row)
    if attempts >= MAX_BUILD_ATTEMPTS:
        _fail(ctx, grant_id, f"build_error: the extract could not be built in {attempts} tries")


# --- what buyers and overseers do ------------------------------------------------


def _visible_row(session: Session, caller: Caller, grant_id: str, *, own: bool) -> GrantRow:
    """The grant if the caller may see it (``own``: only its buyer), else ``NotFound``."""
    try:
        uuid.UUID(grant_id)
    except ValueError as exc:
        raise NotFound(grant_id) from exc
    row = GrantRepository(session).row(grant_id, for_update=True)
    if row is None or (row.buyer_org != caller.org and (own or not caller.oversees())):
        raise NotFound(grant_id)
    return row


def get_grant(ctx: AccessContext, caller: Caller, grant_id: str) -> Grant:
    with reading(ctx.engine) as session:
        return to_grant(_visible_row(session, caller, grant_id, own=False))


def list_grants(
    ctx: AccessContext, caller: Caller, offset: int, limit: int
) -> tuple[list[Grant], int]:
    """The caller's organisation's grants, newest first."""
    with reading(ctx.engine) as session:
        rows, total = GrantRepository(session).page_of(caller.org, offset, limit)
        return [to_grant(r) for r in rows], total


@dataclass(frozen=True)
class DownloadUrl:
    url: str
    expires_at: datetime


def issue_download_url(
    ctx: AccessContext, caller: Caller, grant_id: str, fmt: str, now: datetime | None = None
) -> DownloadUrl:
    """A presigned GET URL for one extract object, at most N per grant per minute."""
    now = now or _now()
    with transaction(ctx.engine) as session:
        row = _visible_row(session, caller, grant_id, own=True)
        grant = to_grant(row)
        lifetime = grant.url_lifetime(now)
        window_start = now - timedelta(minutes=1)
        recent = session.exec(
            select(DownloadUrlRow.issued_at)
            .where(DownloadUrlRow.grant_id == grant_id)
            .where(col(DownloadUrlRow.issued_at) > window_start)
            .order_by(col(DownloadUrlRow.issued_at))
        ).all()
        if len(recent) >= ctx.settings.download_urls_per_minute:
            oldest = recent[0] if recent[0].tzinfo else recent[0].replace(tzinfo=UTC)
            raise TooManyUrls(max(1, int((oldest - window_start).total_seconds()) + 1))
        url = ctx.extracts.download_url(grant_id, fmt, lifetime)
        expires_at = now + lifetime
        session.add(DownloadUrlRow(grant_id=grant_id, issued_at=now))
        add_event(
            session,
            events.GrantDownloadUrlIssued(
                grant_id=grant.id,
                buyer_org=grant.buyer_org,
                listing_id=grant.listing_id,
                format=fmt,
                url_expires_at=expires_at,
                client=caller.subject,
            ),
            source=SOURCE,
        )
    ctx.wake_relay()
    return DownloadUrl(url, expires_at)


def run_sandbox_query(
    ctx: AccessContext, caller: Caller, grant_id: str, sql: str, now: datetime | None = None
) -> QueryResult:
    """Check, run and audit one query over the grant's extract."""
    now = now or _now()
    with transaction(ctx.engine) as session:
        grant = to_grant(_visible_row(session, caller, grant_id, own=False))
        if grant.buyer_org != caller.org:
            raise NotFound(grant_id)
        grant.check_usable(now, "sandbox")
        threshold = listing_terms.sandbox_threshold(session, grant.listing_id, ctx.targets())
    try:
        checked = check_query(sql)
        result = _run_checked(ctx, grant_id, checked, threshold)
    except QueryRefused as exc:
        _audit_query(ctx, caller, grant, sql, refused=str(exc))
        raise SandboxRefusal("query_refused", str(exc)) from exc
    except QueryTimedOut as exc:
        _audit_query(ctx, caller, grant, sql, refused=str(exc))
        raise SandboxRefusal("query_timeout", str(exc)) from exc
    _audit_query(ctx, caller, grant, sql, result=result)
    return result


def sandbox_threshold(ctx: AccessContext, grant_id: str) -> int:
    """Fewest rows behind a sandbox aggregate of this grant (k, or the policy's minimum)."""
    with transaction(ctx.engine) as session:
        row = GrantRepository(session).row(grant_id)
        if row is None:
            return ctx.targets().k
        return listing_terms.sandbox_threshold(session, row.listing_id, ctx.targets())


def _run_checked(
    ctx: AccessContext, grant_id: str, checked: CheckedQuery, threshold: int
) -> QueryResult:
    folder = Path(tempfile.mkdtemp(prefix=f"query-{grant_id}-"))
    try:
        parquet = ctx.extracts.fetch_parquet(grant_id, folder)
        return run_query(
            parquet,
            checked,
            k=threshold,
            timeout_s=ctx.settings.sandbox_timeout_s,
            max_rows=ctx.settings.sandbox_max_rows,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _audit_query(
    ctx: AccessContext,
    caller: Caller,
    grant: Grant,
    sql: str,
    *,
    result: QueryResult | None = None,
    refused: str | None = None,
) -> None:
    with transaction(ctx.engine) as session:
        add_event(
            session,
            events.GrantQueried(
                grant_id=grant.id,
                buyer_org=grant.buyer_org,
                listing_id=grant.listing_id,
                sql_sha256=hashlib.sha256(sql.encode()).hexdigest(),
                rows_returned=len(result.rows) if result else 0,
                suppressed_cells=result.suppressed_cells if result else 0,
                refused=refused is not None,
                reason=refused[:500] if refused else None,
                client=caller.subject,
            ),
            source=SOURCE,
        )
    ctx.wake_relay()


def revoke_grant(ctx: AccessContext, caller: Caller, grant_id: str, reason: str) -> Grant:
    """Close a grant now (operator or regulator) and delete its extract."""

    def revoke(session: Session, grant: Grant) -> EventPayload:
        grant.revoke(reason)
        return events.GrantRevoked(
            grant_id=grant.id,
            buyer_org=grant.buyer_org,
            listing_id=grant.listing_id,
            by_org=caller.org,
            by_role=caller.role,
            reason=reason,
        )

    return close_grant(
        ctx, lambda session: _visible_row(session, caller, grant_id, own=False), revoke
    )


def close_grant(
    ctx: AccessContext,
    load: Callable[[Session], GrantRow],
    close: Callable[[Session, Grant], EventPayload],
) -> Grant:
    """Close a grant and stage its event in one commit, then deny reads and delete its extract.

    ``load`` returns the grant's row locked for update (or raises); ``close`` changes the
    grant, records what else the closing needs, and returns the event announcing it.
    """
    with transaction(ctx.engine) as session:
        row = load(session)
        grant = to_grant(row)
        event = close(session, grant)
        GrantRepository(session).save(grant, row)
        add_event(session, event, source=SOURCE)
    ctx.wake_relay()
    purge_closed(ctx)
    return grant


# --- periodic work -----------------------------------------------------------------


def expire_due(ctx: AccessContext, now: datetime | None = None) -> int:
    """Close every issued grant past its expiry; return how many."""
    now = now or _now()
    with reading(ctx.engine) as session:
        due = GrantRepository(session).ids_where(
            GrantRow.status == "issued", col(GrantRow.expires_at) <= now, limit=500
        )
    expired = 0
    for grant_id in due:
        with transaction(ctx.engine) as session:
            repo = GrantRepository(session)
            row = repo.row(grant_id, for_update=True)
            if row is None:
                continue
            grant = to_grant(row)
            if not grant.is_due(now):
                continue
            grant.expire(now)
            repo.save(grant, row)
            add_event(
                session,
                events.GrantExpired(
                    grant_id=grant.id, buyer_org=grant.buyer_org, listing_id=grant.listing_id
                ),
                source=SOURCE,
            )
            expired += 1
    if expired:
        ctx.wake_relay()
    return expired


#: A presigned URL lives at most 15 minutes: a closed grant's objects stay denied as long.
READ_DENIAL = timedelta(minutes=16)
MAX_DENIED_PREFIXES = 200


def deny_closed_reads(ctx: AccessContext) -> None:
    """Make earlier download URLs of recently closed grants answer 403 (bucket policy).

    Best effort: when the store refuses, the objects are still deleted and the URLs die
    with 404.
    """
    since = _now() - READ_DENIAL
    with reading(ctx.engine) as session:
        ids = session.exec(
            select(GrantRow.id)
            .where(
                col(GrantRow.status).in_(("revoked", "expired", "terminated")),
                or_(col(GrantRow.purged_at).is_(None), col(GrantRow.purged_at) >= since),
            )
            .order_by(col(GrantRow.created_at).desc())
            .limit(MAX_DENIED_PREFIXES)
        ).all()
    prefixes = sorted(extract_prefix(grant_id) for grant_id in ids)
    if prefixes == ctx.denied_prefixes:
        return
    try:
        ctx.extracts.store.deny_reads(prefixes)
    except Exception:
        log.warning("could not deny reads of closed grants' objects", exc_info=True)
        return
    ctx.denied_prefixes = prefixes


def purge_closed(ctx: AccessContext) -> int:
    """Deny reads of recently closed grants, and delete the extract objects not yet purged."""
    deny_closed_reads(ctx)
    with reading(ctx.engine) as session:
        ids = GrantRepository(session).ids_where(
            col(GrantRow.status).in_(("revoked", "expired", "terminated", "failed")),
            col(GrantRow.purged_at).is_(None),
            limit=500,
        )
    for grant_id in ids:
        ctx.extracts.purge(grant_id)
        with transaction(ctx.engine) as session:
            row = GrantRepository(session).row(grant_id, for_update=True)
            if row is not None:
                row.purged_at = _now()
                session.add(row)
    return len(ids)


def count_grants(ctx: AccessContext, status: str) -> int:
    with reading(ctx.engine) as session:
        return int(
            session.exec(
                select(func.count()).select_from(GrantRow).where(GrantRow.status == status)
            ).one()
        )
