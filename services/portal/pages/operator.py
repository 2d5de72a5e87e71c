"""An operator's pages: verify a buyer organisation (tax code, registered name, segment).

Listings with sensitive columns are sold only to verified organisations, and pricing
applies a segment discount only to a verified segment; the catalog keeps both.
"""

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

router = APIRouter(prefix="/operator")
SEGMENTS = ("startup", "sme", "research_education", "public_interest", "foreign")
OrgCode = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9._-]*$")]


@router.get("/organisations", response_class=HTMLResponse)
async def organisations(request: Request, code: OrgCode = "") -> Response:
    """Look an organisation up, and the verification form."""
    session = require_role(request, "operator")
    found: dict[str, Any] | None = None
    if code:
        try:
            found = await portal_of(request).backends.get(
                "catalog", f"/v1/organisations/{code}", token=session.token
            )
        except BackendError as exc:
            if exc.status != 404:
                raise
    return render(
        request,
        "operator/organisations.html",
        code=code,
        organisation=found,
        segments=SEGMENTS,
        errors={},
        values={},
    )


@router.post("/organisations", response_class=HTMLResponse)
async def verify(request: Request) -> Response:
    session = require_role(request, "operator")
    form = await checked_form(request)
    code = str(form.get("code", "")).strip()
    values = {
        "tax_code": str(form.get("tax_code", "")).strip(),
        "registered_name": str(form.get("registered_name", "")).strip(),
        "segment": str(form.get("segment", "")),
    }
    try:
        await portal_of(request).backends.post(
            "catalog", f"/v1/organisations/{code}/verification", json=values, token=session.token
        )
    except BackendError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        field = (exc.field or "").split(".")[-1]
        errors = {field if field in values else "code": exc.message}
        return render(
            request,
            "operator/organisations.html",
            status=422,
            code=code,
            organisation=None,
            segments=SEGMENTS,
            errors=errors,
            values=values,
        )
    flash(
        request,
        gettext(request, "Verified: the organisation may now buy listings with sensitive columns."),
    )
    return redirect(f"/operator/organisations?code={code}")
