"""A provider's pages: its listings, create and edit, upload versions, publish, revenue."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile

from services.common.downloads import content_disposition
from services.contracts.catalog import ALL_PURPOSES
from services.portal.backends import BackendError
from services.portal.listing_form import (
    CLASSIFICATIONS,
    COLUMN_TYPES,
    LICENCES,
    PRODUCTS,
    UPDATE_FREQUENCIES,
    FieldErrors,
    api_errors,
    columns_text,
    listing_body,
)
from services.portal.pages.public import vocabulary
from services.portal.web import (
    checked_form,
    flash,
    gettext,
    portal_of,
    redirect,
    render,
    require_role,
    session_of,
)

router = APIRouter(prefix="/provider")
CHUNK = 1024 * 1024
LISTINGS_PAGE = 25
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _line_label(request: Request) -> str:
    return gettext(request, "Line {line}:")


async def _form_page(
    request: Request,
    *,
    listing: dict[str, Any] | None,
    values: dict[str, Any],
    errors: FieldErrors,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "provider/listing_form.html",
        status=status,
        listing=listing,
        values=values,
        errors=errors.by_field,
        vocabulary=await vocabulary(portal_of(request)),
        frequencies=UPDATE_FREQUENCIES,
        licences=LICENCES,
        column_types=COLUMN_TYPES,
        classifications=CLASSIFICATIONS,
        products=PRODUCTS,
        purpose_codes=ALL_PURPOSES,
    )


def _values_of(listing: dict[str, Any]) -> dict[str, Any]:
    return {
        **listing,
        "keywords": ", ".join(listing["keywords"]),
        "columns": columns_text(listing["columns"]),
    }


@router.get("/listings", response_class=HTMLResponse)
async def my_listings(
    request: Request, page: Annotated[int, Query(ge=1, le=10_000)] = 1
) -> Response:
    session = require_role(request, "provider")
    found = await portal_of(request).backends.get(
        "catalog",
        "/v1/listings/mine",
        params={"page": page, "page_size": LISTINGS_PAGE},
        token=session.token,
    )
    # The catalog's total counts this page only, so "next" is offered after a full page.
    return render(
        request,
        "provider/listings.html",
        listings=found["items"],
        page=page,
        has_next=len(found["items"]) == LISTINGS_PAGE,
    )


@router.get("/listings/new", response_class=HTMLResponse)
async def new_listing(request: Request) -> Response:
    require_role(request, "provider")
    defaults = {
        "products": ["download", "sandbox"],
        "licence": LICENCES[0],
        "update_frequency": "irregular",
    }
    return await _form_page(request, listing=None, values=defaults, errors=FieldErrors())


async def _save(request: Request, listing: dict[str, Any] | None) -> Response:
    session = require_role(request, "provider")
    form = await checked_form(request)
    label = _line_label(request)
    errors = FieldErrors()
    body = listing_body(form, errors, label, gettext(request, "Enter a whole number."))
    source = str(form.get("columns", ""))
    values = {**body, "keywords": str(form.get("keywords", "")), "columns": source}
    if listing is not None and listing.get("versions"):
        body.pop("columns")
    if not errors:
        backends = portal_of(request).backends
        try:
            if listing is None:
                saved = await backends.post(
                    "catalog", "/v1/listings", json=body, token=session.token
                )
            else:
                saved = await backends.put(
                    "catalog", f"/v1/listings/{listing['id']}", json=body, token=session.token
                )
            flash(request, gettext(request, "Saved."))
            return redirect(f"/provider/listings/{saved['id']}")
        except BackendError as exc:
            if exc.status >= 500 or exc.status in (401, 403, 404):
                raise
            errors = api_errors(exc, source, label)
    return await _form_page(request, listing=listing, values=values, errors=errors, status=422)


@router.post("/listings", response_class=HTMLResponse)
async def create_listing(request: Request) -> Response:
    return await _save(request, None)


async def _mine(request: Request, listing_id: str) -> dict[str, Any]:
    session = require_role(request, "provider")
    listing: dict[str, Any] = await portal_of(request).backends.get(
        "catalog", f"/v1/listings/{listing_id}", token=session.token
    )
    if listing["org"] != session.org:
        raise BackendError(404, "not_found", "listing not found")
    return listing


async def _inspection(request: Request, listing: dict[str, Any]) -> dict[str, Any] | None:
    """The personal-data scan of the latest version, when it found something."""
    latest = listing.get("versions") or []
    if not latest or latest[-1].get("inspection_passed") is not False:
        return None
    try:
        found: dict[str, Any] = await portal_of(request).backends.get(
            "catalog",
            f"/v1/listings/{listing['id']}/versions/{latest[-1]['version']}/inspection",
            token=session_of(request).token,
        )
    except BackendError as exc:
        if exc.status >= 500 or exc.status == 401:
            raise
        return None
    return found


@router.get("/listings/{listing_id}", response_class=HTMLResponse)
async def manage_listing(request: Request, listing_id: str) -> Response:
    listing = await _mine(request, listing_id)
    return render(
        request,
        "provider/listing.html",
        listing=listing,
        upload_error=None,
        inspection=await _inspection(request, listing),
    )


@router.get("/listings/{listing_id}/edit", response_class=HTMLResponse)
async def edit_listing(request: Request, listing_id: str) -> Response:
    listing = await _mine(request, listing_id)
    return await _form_page(
        request, listing=listing, values=_values_of(listing), errors=FieldErrors()
    )


@router.post("/listings/{listing_id}/edit", response_class=HTMLResponse)
async def update_listing(request: Request, listing_id: str) -> Response:
    return await _save(request, await _mine(request, listing_id))


@router.post("/listings/{listing_id}/publish", response_class=HTMLResponse)
async def publish(request: Request, listing_id: str) -> Response:
    session = require_role(request, "provider")
    await checked_form(request)
    try:
        await portal_of(request).backends.post(
            "catalog", f"/v1/listings/{listing_id}/publish", token=session.token
        )
        flash(request, gettext(request, "Published: buyers can now find this listing."))
    except BackendError as exc:
        if exc.status >= 500 or exc.status in (401, 404):
            raise
        flash(request, gettext(request, "Not published:") + " " + exc.message, "error")
    return redirect(f"/provider/listings/{listing_id}")


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


def _upload_error(request: Request, exc: BackendError) -> str:
    parts = []
    if exc.line is not None:
        parts.append(gettext(request, "Line {line}:").format(line=exc.line))
    if exc.field:
        parts.append(gettext(request, "column {field}:").format(field=exc.field))
    parts.append(exc.message)
    return " ".join(parts)


@router.post("/listings/{listing_id}/versions", response_class=HTMLResponse)
async def upload_version(request: Request, listing_id: str) -> Response:
    """Forward the file to the catalog as it streams; errors name the line and column."""
    session = require_role(request, "provider")
    form = await checked_form(request)
    partial = request.headers.get("x-upload") == "1"
    upload = form.get("file")
    error: str | None = None
    listing: dict[str, Any] | None = None
    if not isinstance(upload, UploadFile) or not upload.filename:
        error = gettext(request, "Choose a CSV or Parquet file.")
    else:
        name = upload.filename.lower()
        media = "application/vnd.apache.parquet" if name.endswith(".parquet") else "text/csv"
        try:
            listing = await portal_of(request).backends.post(
                "catalog",
                f"/v1/listings/{listing_id}/versions",
                content=_chunks(upload),
                headers={"Content-Type": media},
                token=session.token,
            )
        except BackendError as exc:
            if exc.status >= 500 or exc.status in (401, 404):
                raise
            error = _upload_error(request, exc)
    if partial:
        return render(
            request,
            "provider/upload_result.html",
            status=200 if error is None else 422,
            error=error,
            listing=listing,
        )
    if error is None:
        flash(request, gettext(request, "New version uploaded."))
        return redirect(f"/provider/listings/{listing_id}")
    current = await _mine(request, listing_id)
    return render(
        request,
        "provider/listing.html",
        status=422,
        listing=current,
        upload_error=error,
        inspection=await _inspection(request, current),
    )


@router.get("/statement", response_class=HTMLResponse)
async def statement(request: Request, month: Annotated[str, Query(max_length=7)] = "") -> Response:
    session = require_role(request, "provider")
    month = month if MONTH.match(month) else datetime.now(UTC).strftime("%Y-%m")
    found = await portal_of(request).backends.get(
        "orders", "/v1/statements", params={"month": month}, token=session.token
    )
    return render(request, "provider/statement.html", statement=found, month=month)


@router.get("/statement.csv")
async def statement_csv(
    request: Request, month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
) -> Response:
    session = require_role(request, "provider")
    upstream = await portal_of(request).backends.request(
        "GET",
        "orders",
        "/v1/statements",
        params={"month": month, "format": "csv"},
        token=session.token,
    )
    return Response(
        upstream.content,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": content_disposition(f"statement-{session.org}-{month}.csv")
        },
    )


@router.get("/requests", response_class=HTMLResponse)
async def pending_requests(
    request: Request, page: Annotated[int, Query(ge=1, le=10_000)] = 1
) -> Response:
    """Purpose-bound requests for the provider's listings that wait for its decision."""
    session = require_role(request, "provider")
    found = await portal_of(request).backends.get(
        "orders",
        "/v1/approvals",
        params={"state": "pending", "page": page, "page_size": LISTINGS_PAGE},
        token=session.token,
    )
    pages = max(1, -(-int(found["total"]) // int(found["page_size"])))
    return render(request, "provider/requests.html", orders=found["items"], page=page, pages=pages)


@router.post("/requests/{order_id}", response_class=HTMLResponse)
async def decide_request(request: Request, order_id: str) -> Response:
    """Approve or reject one request, with a note the buyer reads."""
    session = require_role(request, "provider")
    form = await checked_form(request)
    decision = str(form.get("decision", ""))
    note = str(form.get("note", "")).strip()
    if decision not in ("approve", "reject"):
        flash(request, gettext(request, "Choose to approve or to reject."), "error")
        return redirect("/provider/requests")
    try:
        await portal_of(request).backends.post(
            "orders",
            f"/v1/orders/{order_id}/approval",
            json={"decision": decision, "note": note},
            token=session.token,
        )
        flash(
            request,
            gettext(request, "Approved: the buyer can now pay.")
            if decision == "approve"
            else gettext(request, "Rejected: the buyer sees your note."),
        )
    except BackendError as exc:
        if exc.status >= 500 or exc.status in (401, 404):
            raise
        flash(request, gettext(request, "Not decided:") + " " + exc.message, "error")
    return redirect("/provider/requests")


@router.get("/grants", response_class=HTMLResponse)
async def published_grants(
    request: Request, page: Annotated[int, Query(ge=1, le=10_000)] = 1
) -> Response:
    """Grants on the provider's listings (access's ``/v1/published-grants``), newest first."""
    session = require_role(request, "provider")
    found = await portal_of(request).backends.get(
        "access",
        "/v1/published-grants",
        params={"page": page, "page_size": LISTINGS_PAGE},
        token=session.token,
    )
    pages = max(1, -(-int(found["total"]) // int(found["page_size"])))
    return render(request, "provider/grants.html", grants=found["items"], page=page, pages=pages)
