"""Routes of the catalog API (``/v1``)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.catalog import handlers, organisations
from services.catalog.adapters.search import SearchFilters
from services.catalog.api.dcat import catalog_document
from services.catalog.api.schemas import (
    ListingIn,
    ListingOut,
    ListingPage,
    ListingUpdateIn,
    OrganisationOut,
    PendingReview,
    ReviewIn,
    VerificationIn,
    Vocabulary,
)
from services.catalog.api.uploads import receive_upload
from services.catalog.domain.errors import (
    CatalogError,
    InspectionBlocked,
    InvalidTransition,
    InvalidUpload,
)
from services.catalog.domain.model import FindingFacts, InspectionFacts, ListingMetadata, Schema
from services.common.api import ApiError, not_found, optional_principal, require_roles
from services.common.auth import Principal
from services.common.settings import Settings
from services.common.usage_policy import policy_sha256
from services.contracts.catalog import ApprovalMode, Purpose

router = APIRouter(prefix="/v1")

Provider = Annotated[Principal, Depends(require_roles("provider", "operator"))]
Viewer = Annotated[Principal | None, Depends(optional_principal)]
POLICY_MEDIA_TYPE = "application/ld+json"


def _ctx(request: Request) -> handlers.CatalogContext:
    ctx: handlers.CatalogContext = request.app.state.catalog
    return ctx


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _split(body: ListingIn | ListingUpdateIn) -> tuple[ListingMetadata, Schema | None]:
    metadata = ListingMetadata.model_validate(body.model_dump(exclude={"columns"}))
    if body.columns is None:
        return metadata, None
    try:
        return metadata, Schema(columns=body.columns)
    except ValidationError as exc:
        raise ApiError(
            422, "invalid_request", f"columns: {exc.errors()[0]['msg']}", field="columns"
        ) from exc


def _refusal(exc: CatalogError) -> ApiError:
    if isinstance(exc, InspectionBlocked):
        findings = [f.model_dump() for f in exc.findings if isinstance(f, FindingFacts)]
        return ApiError(409, "personal_data_found", exc.message, field=exc.field, findings=findings)
    if isinstance(exc, InvalidTransition):
        return ApiError(409, "conflict", exc.message, field=exc.field)
    if isinstance(exc, InvalidUpload):
        return ApiError(400, "invalid_upload", exc.message, field=exc.field, line=exc.line)
    return ApiError(422, "invalid_request", exc.message, field=exc.field, line=exc.line)


async def _run(func: Any, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(func, *args)
    except handlers.NotFound as exc:
        raise not_found("listing") from exc
    except CatalogError as exc:
        raise _refusal(exc) from exc


@router.post("/listings", status_code=201, response_model=ListingOut, tags=["listings"])
async def create_listing(body: ListingIn, principal: Provider, request: Request) -> ListingOut:
    """Create a draft listing with its metadata and classified column schema."""
    metadata, schema = _split(body)
    assert schema is not None
    listing = await _run(handlers.create_listing, _ctx(request), principal, metadata, schema)
    return ListingOut.of(listing)


@router.get("/listings", response_model=ListingPage, tags=["listings"])
async def search_listings(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    theme: Annotated[str | None, Query(max_length=40)] = None,
    publisher: Annotated[str | None, Query(max_length=64)] = None,
    province: Annotated[str | None, Query(max_length=40)] = None,
    product: Annotated[str | None, Query(pattern="^(download|sandbox)$")] = None,
    purpose: Purpose | None = None,
    approval: ApprovalMode | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ListingPage:
    """Search published listings: accent-insensitive full text, filters, ranked, paged.

    ``purpose`` keeps listings that allow it; ``approval`` those decided that way.
    """
    filters = SearchFilters(
        q=q,
        theme=theme,
        publisher=publisher,
        province=province,
        product=product,
        purpose=purpose,
        approval=approval,
    )
    found, total = await _run(
        handlers.search_listings, _ctx(request), filters, (page - 1) * page_size, page_size
    )
    return ListingPage(
        items=[ListingOut.of(x) for x in found], page=page, page_size=page_size, total=total
    )


@router.get("/listings/mine", response_model=ListingPage, tags=["listings"])
async def my_listings(
    principal: Provider,
    request: Request,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ListingPage:
    """The caller's organisation's listings, drafts included."""
    found = await _run(
        handlers.my_listings, _ctx(request), principal, (page - 1) * page_size, page_size
    )
    return ListingPage(
        items=[ListingOut.of(x) for x in found], page=page, page_size=page_size, total=len(found)
    )


@router.get("/listings/{listing_id}", response_model=ListingOut, tags=["listings"])
async def get_listing(listing_id: str, principal: Viewer, request: Request) -> ListingOut:
    """A listing's public view; drafts only for their own organisation."""
    return ListingOut.of(await _run(handlers.visible_listing, _ctx(request), principal, listing_id))


@router.get(
    "/listings/{listing_id}/policy",
    tags=["listings"],
    response_class=JSONResponse,
    responses={200: {"content": {POLICY_MEDIA_TYPE: {}}, "description": "the odrl:Offer"}},
)
async def get_policy(listing_id: str, principal: Viewer, request: Request) -> JSONResponse:
    """The listing's usage policy: an ODRL 2.2 ``Offer`` as JSON-LD.

    A buyer accepts it by sending ``accept_policy``, the lowercase hex SHA-256 of this
    document canonicalised by RFC 8785, with the order; the same hash is the ``ETag``.
    """
    document = await _run(
        handlers.listing_policy, _ctx(request), principal, listing_id, _settings(request).iri_base
    )
    digest = policy_sha256(document)
    return JSONResponse(document, media_type=POLICY_MEDIA_TYPE, headers={"ETag": f'"{digest}"'})


@router.put("/listings/{listing_id}", response_model=ListingOut, tags=["listings"])
async def update_listing(
    listing_id: str, body: ListingUpdateIn, principal: Provider, request: Request
) -> ListingOut:
    """Replace a listing's metadata (and its schema while no data is uploaded)."""
    metadata, schema = _split(body)
    listing = await _run(
        handlers.update_listing, _ctx(request), principal, listing_id, metadata, schema
    )
    return ListingOut.of(listing)


@router.post("/listings/{listing_id}/publish", response_model=ListingOut, tags=["listings"])
async def publish_listing(listing_id: str, principal: Provider, request: Request) -> ListingOut:
    """Make a listing with at least one version visible to buyers."""
    return ListingOut.of(await _run(handlers.publish_listing, _ctx(request), principal, listing_id))


@router.post("/listings/{listing_id}/retire", response_model=ListingOut, tags=["listings"])
async def retire_listing(listing_id: str, principal: Provider, request: Request) -> ListingOut:
    """Withdraw a listing: no new quotes; existing grants run to their end."""
    return ListingOut.of(await _run(handlers.retire_listing, _ctx(request), principal, listing_id))


@router.post(
    "/listings/{listing_id}/versions",
    status_code=201,
    response_model=ListingOut,
    tags=["listings"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
                "application/vnd.apache.parquet": {
                    "schema": {"type": "string", "format": "binary"}
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
async def upload_version(listing_id: str, principal: Provider, request: Request) -> ListingOut:
    """Upload a UTF-8 CSV or Parquet file as the listing's next, immutable version.

    The body is streamed to disk (any size up to the configured limit), its header
    checked against the schema, measured, and stored under ``raw/`` in object storage.
    """
    ctx = _ctx(request)
    await _run(handlers.visible_listing, ctx, principal, listing_id)
    settings = _settings(request)
    path, digest = await receive_upload(
        request, settings.data_dir / "tmp" / "uploads", settings.max_upload_bytes
    )
    try:
        listing = await _run(handlers.add_version, ctx, principal, listing_id, path, digest)
    finally:
        path.unlink(missing_ok=True)
    return ListingOut.of(listing)


@router.get(
    "/listings/{listing_id}/versions/{version}/inspection",
    response_model=InspectionFacts,
    tags=["inspection"],
)
async def get_inspection(
    listing_id: str,
    version: int,
    principal: Annotated[Principal, Depends(require_roles("provider", "operator", "regulator"))],
    request: Request,
) -> InspectionFacts:
    """The personal-data scan of a version (its organisation, operators, regulators)."""
    try:
        result: InspectionFacts = await asyncio.to_thread(
            handlers.version_inspection, _ctx(request), principal, listing_id, version
        )
    except handlers.NotFound as exc:
        raise not_found("inspection") from exc
    return result


@router.get("/reviews", response_model=list[PendingReview], tags=["inspection"])
async def pending_reviews(
    _: Annotated[Principal, Depends(require_roles("operator"))], request: Request
) -> list[PendingReview]:
    """The operators' queue: latest versions with sensitive columns awaiting a decision."""
    listings = await _run(handlers.pending_reviews, _ctx(request))
    return [PendingReview.of(listing) for listing in listings]


@router.post("/listings/{listing_id}/review", response_model=ListingOut, tags=["inspection"])
async def review_listing(
    listing_id: str,
    body: ReviewIn,
    principal: Annotated[Principal, Depends(require_roles("operator"))],
    request: Request,
) -> ListingOut:
    """An operator approves or rejects the latest version of a listing with sensitive columns."""
    listing = await _run(
        handlers.review_listing, _ctx(request), principal, listing_id, body.decision, body.note
    )
    return ListingOut.of(listing)


@router.post(
    "/organisations/{code}/verification", response_model=OrganisationOut, tags=["organisations"]
)
async def verify_organisation(
    code: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")],
    body: VerificationIn,
    principal: Annotated[Principal, Depends(require_roles("operator"))],
    request: Request,
) -> OrganisationOut:
    """An operator verifies an organisation's tax code, registered name and buyer segment."""
    view = await _run(
        organisations.verify_organisation,
        _ctx(request),
        principal,
        code,
        body.tax_code,
        body.registered_name,
        body.segment,
    )
    return OrganisationOut.model_validate(view, from_attributes=True)


@router.get("/organisations/{code}", response_model=OrganisationOut, tags=["organisations"])
async def get_organisation(code: str, principal: Viewer, request: Request) -> OrganisationOut:
    """Whether an organisation is verified and in which segment."""
    try:
        view = await asyncio.to_thread(organisations.organisation, _ctx(request), principal, code)
    except handlers.NotFound as exc:
        raise not_found("organisation") from exc
    return OrganisationOut.model_validate(view, from_attributes=True)


@router.get("/catalog.jsonld", tags=["catalog"])
async def export_catalog(request: Request) -> dict[str, Any]:
    """The published catalog as DCAT-AP JSON-LD."""
    listings = await _run(handlers.published_listings, _ctx(request))
    return catalog_document(listings, _settings(request).iri_base)


@router.get("/vocabulary", response_model=Vocabulary, tags=["catalog"])
async def vocabulary() -> Vocabulary:
    """Themes, provinces and purposes accepted in listings."""
    return Vocabulary.current()
