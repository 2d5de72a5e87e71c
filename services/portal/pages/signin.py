"""Signing in and out: the development sign-in page, or OpenID Connect when configured.

The development page picks an organisation and a role and mints the same
token ``vndx token`` mints; it exists only outside production and only while
no OIDC issuer is configured.
"""

from __future__ import annotations

import re
from typing import Annotated, get_args

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.common.auth import Role, TokenIssuer
from services.portal import oidc
from services.portal.web import (
    NotAllowed,
    checked_form,
    gettext,
    portal_of,
    redirect,
    render,
    session_of,
)

router = APIRouter()
ORG_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ROLES: tuple[str, ...] = get_args(Role)
HOME_OF_ROLE = {
    "buyer": "/grants",
    "provider": "/provider/listings",
    "regulator": "/regulator/feed",
    "operator": "/kpis",
}


def safe_next(target: str | None) -> str | None:
    """Only a path on this site (never another host) may follow sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def dev_signin_enabled(request: Request) -> bool:
    settings = portal_of(request).settings
    return settings.env != "production" and not settings.oidc_issuer


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(
    request: Request, next: Annotated[str, Query(max_length=500)] = ""
) -> Response:
    if portal_of(request).settings.oidc_issuer:
        return await oidc.start(request, safe_next(next))
    if not dev_signin_enabled(request):
        raise NotAllowed()
    return render(request, "signin.html", roles=ROLES, next=safe_next(next) or "", errors={})


@router.post("/signin", response_class=HTMLResponse)
async def dev_signin(request: Request) -> Response:
    if not dev_signin_enabled(request):
        raise NotAllowed()
    form = await checked_form(request)
    org = str(form.get("org", "")).strip()
    role = str(form.get("role", ""))
    target = safe_next(str(form.get("next", "")))
    errors: dict[str, str] = {}
    if not ORG_PATTERN.match(org):
        errors["org"] = gettext(
            request, "Enter an organisation code: letters, digits, dots, dashes (up to 64)."
        )
    if role not in ROLES:
        errors["role"] = gettext(request, "Choose a role.")
    if errors:
        return render(
            request,
            "signin.html",
            status=422,
            roles=ROLES,
            next=target or "",
            errors=errors,
            org=org,
            role=role,
        )
    settings = portal_of(request).settings
    issuer = TokenIssuer(
        settings.private_key_path.read_bytes(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    token = issuer.issue(org, role, ttl_s=settings.token_ttl_s)  # type: ignore[arg-type]
    session_of(request).sign_in(token, org, role)
    return redirect(target or HOME_OF_ROLE.get(role, "/"))


@router.get("/auth/callback", response_class=HTMLResponse)
async def oidc_callback(request: Request) -> Response:
    target = await oidc.finish(request)
    role = session_of(request).role or ""
    return redirect(target or HOME_OF_ROLE.get(role, "/"))


@router.post("/signout")
async def signout(request: Request) -> Response:
    await checked_form(request)
    session_of(request).sign_out()
    return redirect("/")
