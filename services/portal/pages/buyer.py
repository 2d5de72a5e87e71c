"""A buyer's pages: quote, order, pay, follow to fulfilment, grants, download, sandbox, audit."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from services.common.downloads import content_disposition
from services.portal.agreements import allowed_purposes, is_policy_hash
from services.portal.backends import BackendError
from services.portal.pages.public import listing_view, usage_policy
from services.portal.web import (
    checked_form,
    flash,
    gettext,
    portal_of,
    redirect,
    render,
    require_role,
)

router = APIRouter()
SETTLED = frozenset({"fulfilled", "cancelled", "expired", "payment_failed", "refunded", "rejected"})
GRANT_REF = re.compile(r"^[A-Za-z0-9-]{1,64}$")
PAGE_SIZE = 25
AUDIT_PAGE = 100
REFUNDS = frozenset({"none", "pro_rata", "full"})
PageNumber = Annotated[int, Query(ge=1, le=10_000)]


def _seconds_left(grant: dict[str, Any]) -> int | None:
    expires = grant.get("expires_at")
    if not expires or grant.get("status") != "issued":
        return None
    moment = datetime.fromisoformat(expires)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, int((moment - datetime.now(UTC)).total_seconds()))


def _grant_ref(value: object) -> str | None:
    """A grant id carried through a renewal form (ids are UUIDs: letters, digits, dashes)."""
    text = str(value or "").strip()
    return text if GRANT_REF.match(text) else None


@router.post("/quotes", response_class=HTMLResponse)
async def ask_quote(request: Request) -> Response:
    session = require_role(request, "buyer")
    form = await checked_form(request)
    listing_id = str(form.get("listing_id", ""))
    renews = _grant_ref(form.get("renews"))
    body: dict[str, Any] = {"listing_id": listing_id, "product": str(form.get("product", ""))}
    errors: dict[str, str] = {}
    try:
        body["duration_days"] = int(str(form.get("duration_days", "")))
    except ValueError:
        errors["duration_days"] = gettext(request, "Enter a number of days.")
    purpose = str(form.get("purpose", "")).strip()
    if purpose:
        body["purpose"] = purpose
    else:
        errors["purpose"] = gettext(request, "Choose the purpose you will use the data for.")
    justification = str(form.get("justification", "")).strip()
    if justification:
        body["justification"] = justification
    if renews and not errors:
        await checked_renewable(request, renews)
    if not errors:
        try:
            quote = await portal_of(request).backends.post(
                "pricing", "/v1/quotes", json=body, token=session.token
            )
            suffix = f"?renews={renews}" if renews else ""
            return redirect(f"/quotes/{quote['id']}{suffix}")
        except BackendError as exc:
            if exc.status >= 500 or exc.status == 401:
                raise
            errors[exc.field or "product"] = exc.message
    return await listing_view(
        request, listing_id, status=422, quote_errors=errors, form=form, renews=renews
    )


async def _quote_view(
    request: Request,
    quote_id: str,
    *,
    renews: str | None,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    session = require_role(request, "buyer")
    portal = portal_of(request)
    quote = await portal.backends.get("pricing", f"/v1/quotes/{quote_id}", token=session.token)
    listing_id = quote["listing_id"]
    listing, (_offer, policy) = await asyncio.gather(
        portal.backends.get("catalog", f"/v1/listings/{listing_id}", token=session.token),
        usage_policy(portal, listing_id, session.token),
    )
    return render(
        request,
        "quote.html",
        status=status,
        quote=quote,
        listing=listing,
        policy=policy,
        renews=renews,
        accept_error=error,
    )


@router.get("/quotes/{quote_id}", response_class=HTMLResponse)
async def quote_page(
    request: Request,
    quote_id: str,
    renews: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    return await _quote_view(request, quote_id, renews=_grant_ref(renews))


@router.post("/orders", response_class=HTMLResponse)
async def place_order(request: Request) -> Response:
    """Order a quote; the buyer accepts the usage policy the quote page showed (its hash)."""
    session = require_role(request, "buyer")
    form = await checked_form(request)
    quote_id = str(form.get("quote_id", ""))
    renews = _grant_ref(form.get("renews"))
    accepted = str(form.get("policy_sha256", "")).strip().lower()
    if form.get("accept_policy") != "yes" or not is_policy_hash(accepted):
        message = gettext(request, "Tick the box to accept the usage policy before ordering.")
        return await _quote_view(request, quote_id, renews=renews, status=422, error=message)
    backends = portal_of(request).backends
    quote = await backends.get("pricing", f"/v1/quotes/{quote_id}", token=session.token)
    body: dict[str, Any] = {"quote": quote, "accept_policy": accepted}
    if renews:
        body["renews_grant_id"] = renews
    try:
        order = await backends.post(
            "orders",
            "/v1/orders",
            json=body,
            token=session.token,
            headers={"Idempotency-Key": f"portal-{quote_id}-{accepted[:16]}"},
        )
    except BackendError as exc:
        if exc.status != 409 or (
            exc.code != "policy_not_accepted" and exc.field != "accept_policy"
        ):
            raise
        message = gettext(
            request,
            "The usage policy changed since this page was shown. Read it again and accept it.",
        )
        return await _quote_view(request, quote_id, renews=renews, status=409, error=message)
    return redirect(f"/orders/{order['id']}")


def pages_of(found: dict[str, Any]) -> int:
    return max(1, -(-int(found["total"]) // int(found["page_size"])))


@router.get("/orders", response_class=HTMLResponse)
async def orders_page(request: Request, page: PageNumber = 1) -> Response:
    session = require_role(request, "buyer", "operator")
    found = await portal_of(request).backends.get(
        "orders", "/v1/orders", params={"page": page, "page_size": PAGE_SIZE}, token=session.token
    )
    return render(request, "orders.html", orders=found["items"], page=page, pages=pages_of(found))


async def _order(request: Request, order_id: str) -> dict[str, Any]:
    session = require_role(request, "buyer", "operator")
    order: dict[str, Any] = await portal_of(request).backends.get(
        "orders", f"/v1/orders/{order_id}", token=session.token
    )
    return order


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(
    request: Request,
    order_id: str,
    checkout: Annotated[str, Query(pattern="^(|done|cancelled)$")] = "",
) -> Response:
    """The order; ``checkout`` is where Stripe Checkout sent the buyer back from."""
    order = await _order(request, order_id)
    return render(
        request,
        "order.html",
        order=order,
        settled=order["status"] in SETTLED,
        checkout=checkout,
    )


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
async def grants_page(request: Request, page: PageNumber = 1) -> Response:
    session = require_role(request, "buyer", "operator", "regulator")
    found = await portal_of(request).backends.get(
        "access", "/v1/grants", params={"page": page, "page_size": PAGE_SIZE}, token=session.token
    )
    grants = [{**g, "seconds_left": _seconds_left(g)} for g in found["items"]]
    return render(request, "grants.html", grants=grants, page=page, pages=pages_of(found))


async def _grant(request: Request, grant_id: str) -> dict[str, Any]:
    session = require_role(request, "buyer", "operator", "regulator", "provider")
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

    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/vnd.apache.parquet"
    return StreamingResponse(
        body(),
        media_type=media,
        headers={
            "Content-Disposition": content_disposition(f"extract-{grant_id}.{fmt}"),
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
async def grant_audit(
    request: Request,
    grant_id: str,
    after: Annotated[int, Query(ge=-1, le=2**62)] = -1,
) -> Response:
    """The grant's ledger records, oldest first, a page at a time (the ledger's own cursor)."""
    grant = await _grant(request, grant_id)
    session = require_role(request)
    found = await portal_of(request).backends.get(
        "audit",
        "/v1/audit/records",
        params={"grant": grant_id, "after": after, "limit": AUDIT_PAGE},
        token=session.token,
    )
    return render(
        request,
        "grant_audit.html",
        grant=grant,
        records=found["items"],
        after=after,
        next_after=found.get("next_after"),
    )


@router.post("/grants/{grant_id}/terminate", response_class=HTMLResponse)
async def terminate(request: Request, grant_id: str) -> Response:
    """End a grant early: the buyer (pro rata), its provider (breach), a regulator or operator."""
    session = require_role(request, "buyer", "provider", "regulator", "operator")
    form = await checked_form(request)
    reason = str(form.get("reason", "")).strip()
    refund = str(form.get("refund", "none"))
    if session.role == "buyer":
        refund = "pro_rata"
    elif session.role == "provider" or refund not in REFUNDS:
        refund = "none"
    try:
        await portal_of(request).backends.post(
            "access",
            f"/v1/grants/{grant_id}/terminate",
            json={"reason": reason, "refund": refund},
            token=session.token,
        )
        flash(request, gettext(request, "The access was terminated and its extract deleted."))
    except BackendError as exc:
        if exc.status >= 500 or exc.status in (401, 404):
            raise
        flash(request, gettext(request, "Not terminated:") + " " + exc.message, "error")
    # A provider sees its listings' grants in one list, not grant by grant.
    return redirect("/provider/grants" if session.role == "provider" else f"/grants/{grant_id}")


@router.get("/grants/{grant_id}/agreement.json")
async def agreement_document(request: Request, grant_id: str) -> Response:
    """The grant's ODRL agreement exactly as access holds it."""
    session = require_role(request)
    upstream = await portal_of(request).backends.request(
        "GET", "access", f"/v1/grants/{grant_id}/agreement", token=session.token
    )
    return Response(upstream.content, media_type="application/ld+json")


@router.get("/grants/{grant_id}/renew", response_class=HTMLResponse)
async def renew_page(request: Request, grant_id: str) -> Response:
    """Renewing is buying again: a quote for the same listing and product, then a paid order.

    The form asks for the quote; access is asked first (``checked_renewable``).
    """
    session = require_role(request, "buyer")
    grant = await _grant(request, grant_id)
    portal = portal_of(request)
    listing, active = await asyncio.gather(
        portal.backends.get("catalog", f"/v1/listings/{grant['listing_id']}", token=session.token),
        portal.backends.get("pricing", "/v1/policies/active"),
    )
    durations = active["summary"]["products"].get(grant["product"], {}).get("durations", [])
    return render(
        request,
        "renew.html",
        grant=grant,
        listing=listing,
        allowed=allowed_purposes(listing),
        durations=durations,
    )


async def checked_renewable(request: Request, grant_id: str) -> None:
    """Raise unless access says this grant may be renewed by an order."""
    session = require_role(request, "buyer")
    try:
        await portal_of(request).backends.post(
            "access", f"/v1/grants/{grant_id}/renew", token=session.token
        )
    except BackendError as exc:
        if exc.code != "renew_by_order":
            raise
