"""A regulator's pages: the live audit feed with filters, inclusion proofs, alerts, revocation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.portal.backends import BackendError
from services.portal.web import (
    checked_form,
    flash,
    gettext,
    portal_of,
    redirect,
    render,
    require_role,
)

router = APIRouter(prefix="/regulator")
FEED_ROWS = 50
MAX_PAGES = 20
PAGE = 1000
BROWSE_PAGE = 100
ALERT_TYPE = "alert.raised"
Text = Annotated[str, Query(max_length=100)]


async def latest_records(request: Request, filters: dict[str, str]) -> list[dict[str, Any]]:
    """The newest records matching the filters, newest first (the API pages oldest first)."""
    session = require_role(request, "regulator", "operator")
    backends = portal_of(request).backends
    after = -1
    kept: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        page = await backends.get(
            "audit",
            "/v1/audit/records",
            params={**filters, "after": after, "limit": PAGE},
            token=session.token,
        )
        kept = (kept + page["items"])[-FEED_ROWS:]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    return list(reversed(kept))


@router.get("/feed", response_class=HTMLResponse)
async def feed(
    request: Request, type: Text = "", org: Text = "", listing: Text = "", grant: Text = ""
) -> Response:
    filters = {"type": type, "org": org, "listing": listing, "grant": grant}
    records = await latest_records(request, filters)
    template = (
        "regulator/feed_rows.html" if request.headers.get("hx-request") else "regulator/feed.html"
    )
    response = render(request, template, records=records, filters=filters)
    response.headers["Vary"] = "HX-Request"
    return response


@router.get("/records", response_class=HTMLResponse)
async def browse(
    request: Request,
    type: Text = "",
    org: Text = "",
    listing: Text = "",
    grant: Text = "",
    after: Annotated[int, Query(ge=-1, le=2**62)] = -1,
) -> Response:
    """Every record matching the filters, oldest first, a page at a time (the ledger's cursor)."""
    session = require_role(request, "regulator", "operator")
    filters = {"type": type, "org": org, "listing": listing, "grant": grant}
    found = await portal_of(request).backends.get(
        "audit",
        "/v1/audit/records",
        params={**filters, "after": after, "limit": BROWSE_PAGE},
        token=session.token,
    )
    return render(
        request,
        "regulator/records.html",
        records=found["items"],
        filters=filters,
        after=after,
        next_after=found.get("next_after"),
    )


@router.get("/alerts", response_class=HTMLResponse)
async def alerts(request: Request) -> Response:
    records = await latest_records(request, {"type": ALERT_TYPE})
    return render(request, "regulator/alerts.html", records=records)


@router.get("/records/{seq}", response_class=HTMLResponse)
async def record(request: Request, seq: int) -> Response:
    session = require_role(request, "regulator", "operator")
    backends = portal_of(request).backends
    found = await backends.get("audit", f"/v1/audit/records/{seq}", token=session.token)
    proof: dict[str, Any] | None
    try:
        proof = await backends.get("audit", f"/v1/audit/records/{seq}/proof", token=session.token)
    except BackendError as exc:
        if exc.status >= 500:
            raise
        proof = None
    return render(request, "regulator/record.html", record=found, proof=proof)


@router.post("/grants/{grant_id}/revoke", response_class=HTMLResponse)
async def revoke(request: Request, grant_id: str) -> Response:
    session = require_role(request, "regulator", "operator")
    form = await checked_form(request)
    reason = str(form.get("reason", "")).strip()
    try:
        await portal_of(request).backends.post(
            "access", f"/v1/grants/{grant_id}/revoke", json={"reason": reason}, token=session.token
        )
        flash(request, gettext(request, "The access was revoked and its extract deleted."))
    except BackendError as exc:
        if exc.status >= 500 or exc.status in (401, 404):
            raise
        flash(request, gettext(request, "Not revoked:") + " " + exc.message, "error")
    return redirect(f"/grants/{grant_id}")
