"""Routes of the access API (``/v1/grants``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request

from services.access import agreements, handlers
from services.access.api.schemas import (
    DownloadIn,
    DownloadOut,
    GrantOut,
    GrantPage,
    QueryIn,
    QueryOut,
    RevokeIn,
)
from services.access.domain.grant import GrantError, GrantGone
from services.common.api import ApiError, current_principal, not_found, require_roles
from services.common.auth import Principal

router = APIRouter(prefix="/v1", tags=["grants"])

Anyone = Annotated[Principal, Depends(current_principal)]
Overseer = Annotated[Principal, Depends(require_roles("operator", "regulator"))]
T = TypeVar("T")


def _ctx(request: Request) -> handlers.AccessContext:
    ctx: handlers.AccessContext = request.app.state.access
    return ctx


def _caller(principal: Principal) -> handlers.Caller:
    return handlers.Caller(org=principal.org, role=principal.role, subject=principal.subject)


async def _run(func: Callable[..., T], *args: Any) -> T:
    try:
        return await asyncio.to_thread(func, *args)
    except handlers.NotFound as exc:
        raise not_found("grant") from exc
    except GrantGone as exc:
        raise ApiError(410, exc.code, exc.message) from exc
    except GrantError as exc:
        raise ApiError(409, exc.code, exc.message) from exc
    except handlers.TooManyUrls as exc:
        raise ApiError(
            429,
            "too_many_requests",
            str(exc),
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from exc
    except handlers.SandboxRefusal as exc:
        raise ApiError(400, exc.code, exc.message, field="sql") from exc


@router.get("/grants", response_model=GrantPage)
async def my_grants(
    principal: Anyone,
    request: Request,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> GrantPage:
    """The grants of the caller's organisation, newest first."""
    found, total = await _run(
        handlers.list_grants, _ctx(request), _caller(principal), (page - 1) * page_size, page_size
    )
    facts = await asyncio.to_thread(agreements.facts_of, _ctx(request), [g.id for g in found])
    return GrantPage(
        items=[GrantOut.of(g).with_terms(facts.get(g.id)) for g in found],
        page=page,
        page_size=page_size,
        total=total,
    )


@router.get("/grants/{grant_id}", response_model=GrantOut)
async def get_grant(grant_id: str, principal: Anyone, request: Request) -> GrantOut:
    """One grant with its status, expiry and measured privacy figures."""
    grant = await _run(handlers.get_grant, _ctx(request), _caller(principal), grant_id)
    facts = await asyncio.to_thread(agreements.facts_of, _ctx(request), [grant.id])
    return GrantOut.of(grant).with_terms(facts.get(grant.id))


@router.post("/grants/{grant_id}/download", response_model=DownloadOut)
async def download(
    grant_id: str, principal: Anyone, request: Request, body: DownloadIn | None = None
) -> DownloadOut:
    """A presigned URL for the extract in one format, valid ≤ 15 minutes (each is audited)."""
    fmt = (body or DownloadIn()).format
    issued = await _run(
        handlers.issue_download_url, _ctx(request), _caller(principal), grant_id, fmt
    )
    return DownloadOut(url=issued.url, expires_at=issued.expires_at)


@router.post("/grants/{grant_id}/query", response_model=QueryOut)
async def query(grant_id: str, body: QueryIn, principal: Anyone, request: Request) -> QueryOut:
    """Run one aggregate SELECT over the grant's extract; small groups are suppressed."""
    ctx = _ctx(request)
    result = await _run(handlers.run_sandbox_query, ctx, _caller(principal), grant_id, body.sql)
    return QueryOut(
        columns=result.columns,
        rows=result.rows,
        suppressed_cells=result.suppressed_cells,
        suppressed_groups=result.suppressed_groups,
        truncated=result.truncated,
        k=await asyncio.to_thread(handlers.sandbox_threshold, ctx, grant_id),
    )


@router.post("/grants/{grant_id}/revoke", response_model=GrantOut)
async def revoke(grant_id: str, body: RevokeIn, principal: Overseer, request: Request) -> GrantOut:
    """Close a grant now and delete its extract (operator or regulator)."""
    grant = await _run(
        handlers.revoke_grant, _ctx(request), _caller(principal), grant_id, body.reason
    )
    return GrantOut.of(grant)


@router.post("/grants/{grant_id}/renew", status_code=409)
async def renew(grant_id: str, principal: Anyone, request: Request) -> GrantOut:
    """Renewal is a purchase: place an order for a quote with ``renews_grant_id``."""
    await _run(handlers.get_grant, _ctx(request), _caller(principal), grant_id)
    raise ApiError(
        409,
        "renew_by_order",
        "a grant is renewed by paying for it: request a quote (POST /v1/quotes) for the same "
        f"listing and place an order with renews_grant_id={grant_id}; the grant is extended "
        "when the order is paid",
        field="grant_id",
    )
