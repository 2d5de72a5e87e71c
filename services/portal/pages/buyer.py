"""A buyer's pages: quote, order, pay, follow to fulfilment, grants, download, sandbox, audit."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from services.portal.backends import BackendError
from services.portal.pages.public import listing_view
from services.portal.web import (
    checked_form,
    gettext,
    portal_of,
    redirect,
    render,
    require_role,
)

router = APIRouter()
SETTLED = frozenset({"fulfilled", "cancelled", "expired", "payment_failed", "refunded"})
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _seconds_left(grant: dict[str, Any]) -> int | None:
    expires = grant.get("expires_at")
    if not expires or grant.get("status") != "issued":
        return None
    moment = datetime.fromisoformat(expires)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, int((moment - datetime.now(UTC)).total_seconds()))


@router.post("/quotes", response_class=HTMLResponse)
async def ask_quote(request: Request) -> Response:
    session = require_role(request, "buyer")
    form = await checked_form(request)
    listing_id = str(form.get("listing_id", ""))
    body: dict[str, Any] = {"listing_id": listing_id, "product": str(form.get("product", ""))}
    errors: dict[str, str] = {}
    try:
        body["duration_days"] = int(str(form.get("duration_days", "")))
    except ValueError:
        errors["duration_days"] = gettext(request, "Enter a number of days.")
    purpose = str(form.get("purpose", "")).strip()
    if purpose:
        body["purpose"] = purpose
    if not errors:
        try:
            quote = await portal_of(request).backends.post(
                "pricing", "/v1/quotes", json=body, token=session.token
            )
            return redirect(f"/quotes/{quote['id']}")
        except BackendError as exc:
            if exc.status >= 500 or exc.status == 401:
                raise
            errors[exc.field or "product"] = exc.message
    return await listing_view(request, listing_id, status=422, quote_errors=errors, form=form)


@router.get("/quotes/{quote_id}", response_class=HTMLResponse)
async def quote_page(request: Request, quote_id: str) -> Response:
    session = require_role(request, "buyer")
    backends = portal_of(request).backends
    quote = await backends.get("pricing", f"/v1/quotes/{quote_id}", token=session.token)
    listing = await backends.get(
        "catalog", f"/v1/listings/{quote['listing_id']}", token=session.token
    )
    return render(request, "quote.html", quote=quote, listing=listing)


@router.post("/orders", response_class=HTMLResponse)
async def place_order(request: Request) -> Response:
    session = require_role(request, "buyer")
    form = await checked_form(request)
    quote_id = str(form.get("quote_id", ""))
    backends = portal_of(request).backends
    quote = await backends.get("pricing", f"/v1/quotes/{quote_id}", token=session.token)
    order = await backends.post(
        "orders",
        "/v1/orders",
        json={"quote": quote},
        token=session.token,
        headers={"Idempotency-Key": f"portal-{quote_id}"},
    )
    return redirect(f"/orders/{order['id']}")


@router.get("/orders", response_class=HTMLResponse)
async def orders_page(request: Request) -> Response:
    session = require_role(request, "buyer", "operator")
    page = await portal_of(request).backends.get(
        "orders", "/v1/orders", params={"page_size": 50}, token=session.token
    )
    return render(request, "orders.html", orders=page["items"])


async def _order(request: Request, order_id: str) -> dict[str, Any]:
    session = require_role(request, "buyer", "operator")
    order: dict[str, Any] = await portal_of(request).backends.get(
        "orders", f"/v1/orders/{order_id}", token=session.token
    )
    return order


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: str) -> Response:
    order = await _order(request, order_id)
    return render(request, "order.html", order=order, settled=order["status"] in SETTLED)


@router.get("/orders/{order_id}/status", response_class=HTMLResponse)
async def order_status(request: Request, order_id: str) -> Response:
    """The status panel alone, which the order page polls until the order settles."""
    order = await _order(request, order_id)
    response = render(
        request, "partials/order_status.html", order=order, settled=order["status"] in SETTLED
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/grants", response_class=HTMLResponse)
async def grants_page(request: Request) -> Response:
    session = require_role(request, "buyer", "operator", "regulator")
    page = await portal_of(request).backends.get(
        "access", "/v1/grants", params={"page_size": 50}, token=session.token
    )
    grants = [{**g, "seconds_left": _seconds_left(g)} for g in page["items"]]
    return render(request, "grants.html", grants=grants)


async def _grant(request: Request, grant_id: str) -> dict[str, Any]:
    session = require_role(request, "buyer", "operator", "regulator")
    grant: dict[str, Any] = await portal_of(request).backends.get(
        "access", f"/v1/grants/{grant_id}", token=session.token
    )
    grant["seconds_left"] = _seconds_left(grant)
    return grant


@router.get("/grants/{grant_id}", response_class=HTMLResponse)
async def grant_page(request: Request, grant_id: str) -> Response:
    grant = await _grant(request, grant_id)
    return render(request, "grant.html", grant=grant)


@router.post("/grants/{grant_id}/download")
async def download(request: Request, grant_id: str) -> Response:
    """Ask access for a short-lived URL and stream the extract through the portal."""
    session = require_role(request, "buyer")
    form = await checked_form(request)
    fmt = "parquet" if form.get("format") == "parquet" else "csv"
    backends = portal_of(request).backends
    issued = await backends.post(
        "access", f"/v1/grants/{grant_id}/download", json={"format": fmt}, token=session.token
    )
    context = backends.stream_url(issued["url"])
    upstream = await context.__aenter__()

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_bytes():
                yield chunk
        finally:
            await context.__aexit__(None, None, None)

    name = SAFE_NAME.sub("-", f"extract-{grant_id}.{fmt}")
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/vnd.apache.parquet"
    return StreamingResponse(
        body(),
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/grants/{grant_id}/sandbox", response_class=HTMLResponse)
async def sandbox_page(request: Request, grant_id: str) -> Response:
    grant = await _grant(request, grant_id)
    example = "SELECT sex, COUNT(*) AS people FROM extract GROUP BY sex"
    return render(request, "sandbox.html", grant=grant, sql=example, result=None, error=None)


@router.post("/grants/{grant_id}/sandbox", response_class=HTMLResponse)
async def run_query(request: Request, grant_id: str) -> Response:
    session = require_role(request, "buyer")
    form = await checked_form(request)
    sql = str(form.get("sql", "")).strip()
    grant = await _grant(request, grant_id)
    result, error = None, None
    try:
        result = await portal_of(request).backends.post(
            "access", f"/v1/grants/{grant_id}/query", json={"sql": sql}, token=session.token
        )
    except BackendError as exc:
        if exc.status >= 500 or exc.status in (401, 404):
            raise
        error = exc.message
    partial = request.headers.get("hx-request") is not None
    template = "partials/sandbox_result.html" if partial else "sandbox.html"
    return render(
        request,
        template,
        grant=grant,
        sql=sql,
        result=result,
        error=error,
        status=200 if error is None or partial else 400,  # htmx swaps only 2xx
    )


@router.get("/grants/{grant_id}/audit", response_class=HTMLResponse)
async def grant_audit(request: Request, grant_id: str) -> Response:
    grant = await _grant(request, grant_id)
    session = require_role(request)
    records = await portal_of(request).backends.get(
        "audit", "/v1/audit/records", params={"grant": grant_id, "limit": 500}, token=session.token
    )
    return render(request, "grant_audit.html", grant=grant, records=records["items"])
