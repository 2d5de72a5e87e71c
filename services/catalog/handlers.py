"""Use cases of the catalog: each runs in one transaction with its outbox events."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine
from sqlmodel import Session

from services.catalog.adapters.orm import ListingRepository, ensure_organisation
from services.catalog.adapters.profiling import (
    FileFormat,
    FileProfile,
    csv_delimiter,
    detect_format,
    profile_file,
)
from services.catalog.adapters.sampling import DEFAULT_MAX_ROWS, sample_columns
from services.catalog.adapters.search import SearchFilters, SearchPage, index_listing, search
from services.catalog.domain.errors import InvalidTransition
from services.catalog.domain.inspection import inspect
from services.catalog.domain.model import (
    FindingFacts,
    InspectionFacts,
    Listing,
    ListingMetadata,
    Schema,
    VersionFacts,
)
from services.catalog.domain.quality import freshness, quality_score
from services.catalog.domain.search_text import fold
from services.common import usage_policy
from services.common.auth import Principal
from services.common.db import reading, transaction
from services.common.objectstore import ObjectStore
from services.common.outbox import add_event
from services.contracts import catalog as events

SOURCE = "/vndx/catalog"


class NotFound(LookupError):
    """The listing does not exist or the caller may not see it (404)."""


@dataclass
class CatalogContext:
    """What the use cases need: the database, the object store and a relay nudge."""

    engine: Engine
    store: ObjectStore
    wake_relay: Callable[[], None] = lambda: None
    inspection_threshold: float = 0.2
    inspection_sample_rows: int = DEFAULT_MAX_ROWS


def snapshot(listing: Listing) -> events.ListingSnapshot:
    """The public facts consumers act on; ``latest_version`` is the released one."""
    latest = listing.released_version()
    return events.ListingSnapshot(
        listing_id=listing.id,
        org=listing.org,
        status=listing.status,
        title_vi=listing.metadata.title_vi,
        title_en=listing.metadata.title_en,
        theme=listing.metadata.theme,
        provinces=list(listing.metadata.provinces),
        update_frequency=listing.metadata.update_frequency,
        products=list(listing.metadata.products),
        list_price=listing.metadata.list_price,
        columns=[
            events.ColumnFacts(
                name=c.name,
                type=c.type,
                classification=c.classification,
                hint=c.hint.model_dump(exclude_none=True) if c.hint else None,
                keep_as_pseudonym=c.keep_as_pseudonym,
            )
            for c in listing.schema_.columns
        ],
        latest_version=events.VersionFacts(
            version=latest.version,
            format=latest.format,
            object_key=latest.object_key,
            size_bytes=latest.size_bytes,
            sha256=latest.sha256,
            row_count=latest.row_count,
            quality_score=latest.quality_score,
            created_at=latest.created_at,
        )
        if latest
        else None,
        allowed_purposes=list(listing.metadata.allowed_purposes),
        approval=listing.metadata.approval,
        min_k=listing.metadata.min_k,
        min_group_size=listing.metadata.min_group_size,
        buyer_may_terminate=listing.metadata.buyer_may_terminate,
    )


def _save(session: Session, listing: Listing, *, new: bool = False) -> None:
    repo = ListingRepository(session)
    repo.add(listing) if new else repo.save(listing)
    meta = listing.metadata
    index_listing(
        session,
        listing.id,
        fold(f"{meta.title_vi} {meta.title_en}"),
        fold(" ".join([meta.description_vi, meta.description_en, " ".join(meta.keywords)])),
    )


def _owned(session: Session, principal: Principal, listing_id: str) -> Listing:
    listing = ListingRepository(session).get(listing_id)
    if listing is None or not (principal.is_operator() or listing.org == principal.org):
        raise NotFound(listing_id)
    return listing


def create_listing(
    ctx: CatalogContext, principal: Principal, metadata: ListingMetadata, schema: Schema
) -> Listing:
    listing = Listing(org=principal.org, metadata=metadata, schema=schema)
    with transaction(ctx.engine) as session:
        ensure_organisation(session, principal.org)
        _save(session, listing, new=True)
    return listing


def update_listing(
    ctx: CatalogContext,
    principal: Principal,
    listing_id: str,
    metadata: ListingMetadata,
    schema: Schema | None,
) -> Listing:
    with transaction(ctx.engine) as session:
        listing = _owned(session, principal, listing_id)
        listing.update(metadata, schema)
        _save(session, listing)
        if listing.status == "published":
            add_event(session, events.ListingUpdated(listing=snapshot(listing)), source=SOURCE)
    ctx.wake_relay()
    return listing


def publish_listing(ctx: CatalogContext, principal: Principal, listing_id: str) -> Listing:
    with transaction(ctx.engine) as session:
        listing = _owned(session, principal, listing_id)
        listing.publish()
        _save(session, listing)
        add_event(session, events.ListingPublished(listing=snapshot(listing)), source=SOURCE)
    ctx.wake_relay()
    return listing


def retire_listing(ctx: CatalogContext, principal: Principal, listing_id: str) -> Listing:
    with transaction(ctx.engine) as session:
        listing = _owned(session, principal, listing_id)
        listing.retire()
        _save(session, listing)
        add_event(session, events.ListingRetired(listing=snapshot(listing)), source=SOURCE)
    ctx.wake_relay()
    return listing


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def add_version(
    ctx: CatalogContext,
    principal: Principal,
    listing_id: str,
    upload: Path,
    sha256: str | None = None,
) -> Listing:
    """Check, measure and store an uploaded file as the listing's next version.

    The file is profiled and uploaded to object storage in parallel; if the
    profile refuses it, or the version was taken meanwhile, the object is deleted
    and nothing is committed.
    """
    with reading(ctx.engine) as session:
        listing = _owned(session, principal, listing_id)
    if listing.status == "retired":
        raise InvalidTransition("a retired listing takes no new versions")
    fmt = detect_format(upload)
    number = listing.next_version_number()
    key = f"raw/{listing.org}/{listing.id}/{number}/data.{fmt}"
    content_type = "text/csv" if fmt == "csv" else "application/vnd.apache.parquet"
    delimiter = csv_delimiter(upload) if fmt == "csv" else ","
    # Three passes over the file at once: measure, scan for personal data, store.
    with ThreadPoolExecutor(max_workers=3) as pool:
        profiling = pool.submit(profile_file, upload, listing.schema_)
        inspecting = pool.submit(
            inspect_file,
            upload,
            fmt,
            delimiter,
            listing,
            ctx.inspection_threshold,
            ctx.inspection_sample_rows,
        )
        uploading = pool.submit(ctx.store.put_file, key, upload, content_type)
        digest = sha256 or _sha256(upload)
        try:
            profile: FileProfile = profiling.result()
            inspection = inspecting.result()
        except BaseException:
            inspecting.exception()
            uploading.result()
            ctx.store.delete(key)
            raise
        uploading.result()
    meta = listing.metadata
    today = datetime.now(UTC).date()
    fresh = freshness(meta.update_frequency, meta.temporal.end if meta.temporal else None, today)
    facts = VersionFacts(
        version=number,
        format=profile.format,
        object_key=key,
        size_bytes=upload.stat().st_size,
        sha256=digest,
        row_count=profile.row_count,
        columns=profile.columns,
        completeness=profile.completeness,
        validity=profile.validity,
        freshness=fresh,
        quality_score=quality_score(profile.completeness, profile.validity, fresh),
        created_at=datetime.now(UTC),
        inspection=inspection,
    )
    try:
        with transaction(ctx.engine) as session:
            current = _owned(session, principal, listing_id)
            current.add_version(facts)
            _save(session, current)
            add_event(session, events.ListingVersionAdded(listing=snapshot(current)), source=SOURCE)
            add_event(session, inspected_event(current, inspection, number), source=SOURCE)
    except BaseException:
        ctx.store.delete(key)
        raise
    ctx.wake_relay()
    return current


def inspect_file(
    path: Path,
    fmt: FileFormat,
    delimiter: str,
    listing: Listing,
    threshold: float,
    sample_rows: int = DEFAULT_MAX_ROWS,
) -> InspectionFacts:
    """Scan a sample of every column not declared a direct identifier for personal data."""
    columns: list[tuple[str, str]] = [(c.name, c.classification) for c in listing.schema_.columns]
    samples = sample_columns(path, fmt, columns, sample_rows, delimiter=delimiter)
    report = inspect(samples, threshold)
    return InspectionFacts(
        findings=[
            FindingFacts(
                column=f.column,
                pattern=str(f.pattern),
                share=round(f.share, 4),
                matched=f.matched,
                non_empty=f.non_empty,
                examples=list(f.examples),
            )
            for f in report.findings
        ],
        columns_scanned=list(report.columns_scanned),
        rows_sampled=report.rows_sampled,
        threshold=threshold,
        inspected_at=datetime.now(UTC),
    )


def inspected_event(
    listing: Listing, inspection: InspectionFacts, version: int
) -> events.ListingInspected:
    return events.ListingInspected(
        listing_id=listing.id,
        org=listing.org,
        version=version,
        passed=not inspection.findings,
        rows_sampled=inspection.rows_sampled,
        findings=[
            events.InspectionFinding(column=f.column, pattern=f.pattern, share=f.share)
            for f in inspection.findings
        ],
    )


def review_listing(
    ctx: CatalogContext,
    principal: Principal,
    listing_id: str,
    decision: Literal["approve", "reject"],
    note: str,
) -> Listing:
    """An operator's decision on the latest version of a listing with sensitive columns."""
    with transaction(ctx.engine) as session:
        listing = ListingRepository(session).get(listing_id)
        if listing is None:
            raise NotFound(listing_id)
        review = listing.review(decision, note, principal.org)
        _save(session, listing)
        add_event(
            session,
            events.ListingReviewed(
                listing_id=listing.id,
                org=listing.org,
                version=review.version,
                decision=review.decision,
                note=review.note,
                by_org=review.by_org,
            ),
            source=SOURCE,
        )
        if listing.status == "published" and review.decision == "approve":
            # The approved version is now released: consumers learn it from the snapshot.
            add_event(session, events.ListingUpdated(listing=snapshot(listing)), source=SOURCE)
    ctx.wake_relay()
    return listing


def pending_reviews(ctx: CatalogContext) -> list[Listing]:
    """Listings whose latest version waits for an operator's review, oldest change first."""
    with reading(ctx.engine) as session:
        listings = ListingRepository(session).all_current()
    return [x for x in listings if x.versions and x.review_status() == "pending"]


def version_inspection(
    ctx: CatalogContext, principal: Principal, listing_id: str, version: int
) -> InspectionFacts:
    """The inspection report of a version: for its organisation, operators and regulators."""
    with reading(ctx.engine) as session:
        listing = ListingRepository(session).get(listing_id)
    if listing is None or not (
        principal.role in ("operator", "regulator") or listing.org == principal.org
    ):
        raise NotFound(listing_id)
    found = next((v for v in listing.versions if v.version == version), None)
    if found is None or found.inspection is None:
        raise NotFound(f"{listing_id} version {version}")
    return found.inspection


def visible_listing(ctx: CatalogContext, principal: Principal | None, listing_id: str) -> Listing:
    """A listing the caller may see: anyone sees published or retired ones, owners all."""
    with reading(ctx.engine) as session:
        listing = ListingRepository(session).get(listing_id)
    if listing is None:
        raise NotFound(listing_id)
    if listing.status == "draft" and not (
        principal and (principal.is_operator() or principal.org == listing.org)
    ):
        raise NotFound(listing_id)
    return listing


def listing_policy(
    ctx: CatalogContext, principal: Principal | None, listing_id: str, iri_base: str
) -> dict[str, Any]:
    """The ODRL offer of a listing the caller may see, built from the snapshot its events carry.

    Orders rebuilds the same document from the same snapshot, so the hash a buyer accepts
    matches whatever service checks it.
    """
    return usage_policy.offer(snapshot(visible_listing(ctx, principal, listing_id)), iri_base)


def search_listings(
    ctx: CatalogContext, filters: SearchFilters, offset: int, limit: int
) -> tuple[list[Listing], int]:
    with ctx.engine.connect() as connection:
        page: SearchPage = search(connection, filters, offset, limit)
    with reading(ctx.engine) as session:
        found = {listing.id: listing for listing in ListingRepository(session).get_many(page.ids)}
    return [found[i] for i in page.ids if i in found], page.total


def my_listings(
    ctx: CatalogContext, principal: Principal, offset: int, limit: int
) -> list[Listing]:
    with reading(ctx.engine) as session:
        return ListingRepository(session).list_for_org(principal.org, offset, limit)


def published_listings(ctx: CatalogContext) -> list[Listing]:
    with reading(ctx.engine) as session:
        return ListingRepository(session).all_published()


def register_organisation(engine: Engine, code: str, name: str | None = None) -> None:
    with transaction(engine) as session:
        ensure_organisation(session, code, name)
