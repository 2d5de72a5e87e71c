"""Routes for previews, agreements and termination (issue 12's part of access).

``GET /v1/listings/{id}/preview``, ``GET /v1/grants/{id}/agreement`` and
``POST /v1/grants/{id}/terminate``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.access import agreements, handlers, preview, termination
from services.access.api.schemas import GrantOut, GrantPage
from services.access.domain.grant import GrantError, GrantGone
from services.access.domain.preview_profile import MAX_SYNTHETIC_ROWS
from services.access.domain.termination import TerminationRefused
from services.common.api import ApiError, current_principal, not_found, require_roles
from services.common.auth import Principal

router = APIRouter(prefix="/v1")

Anyone = Annotated[Principal, Depends(current_principal)]
Provider = Annotated[Principal, Depends(require_roles("provider"))]
T = TypeVar("T")


class TerminateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)
    refund: Literal["none", "pro_rata", "full"]


class PreviewColumn(BaseModel):
    name: str
    type: str | None
    classification: str
    released_as: Literal["dropped", "pseudonymised", "generalised", "kept"]
    generalisation_level: int | None = None
    profile: dict[str, Any] = Field(
        description='{"kind": "categorical", "top": [{"value", "count"}], "other", "nulls"}, '
        '{"kind": "histogram", "bins": [{"from", "to", "count"}], "values", "nulls"} or '
        '{"kind": "withheld"}; a count between 1 and k-1 reads "<k"'
    )


class PreviewPrivacy(BaseModel):
    k: int
    l_diversity: int | None
    suppression_share: float


class SyntheticRow(BaseModel):
    synthetic: Literal[True] = True
    values: dict[str, Any]


class PreviewOut(BaseModel):
    listing_id: str
    version: int
    row_count: int
    released_rows: int
    k: int
    privacy: PreviewPrivacy
    columns: list[PreviewColumn]
    synthetic_rows: list[SyntheticRow]
    computed_at: str


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
    except preview.ListingNotFound as exc:
        raise not_found("listing") from exc
    except preview.PreviewPending as exc:
        raise ApiError(
            409,
            "preview_pending",
            exc.message,
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from exc
    except preview.PreviewUnavailable as exc:
        raise ApiError(409, "preview_unavailable", exc.message) from exc
    except TerminationRefused as exc:
        raise ApiError(403, exc.code, exc.message, field=exc.field) from exc
    except GrantGone as exc:
        raise ApiError(410, exc.code, exc.message) from exc
    except GrantError as exc:
        raise ApiError(409, exc.code, exc.message) from exc


@router.get("/listings/{listing_id}/preview", response_model=PreviewOut, tags=["previews"])
async def get_preview(
    listing_id: str,
    _principal: Anyone,
    request: Request,
    synthetic_rows: Annotated[int, Query(ge=0, le=MAX_SYNTHETIC_ROWS)] = 0,
) -> PreviewOut:
    """Profiles of the anonymised data (counts below k masked), never a row of it.

    ``synthetic_rows`` (0–20) adds rows drawn column by column from those profiles,
    each marked ``"synthetic": true``.
    """
    found = await _run(preview.get_preview, _ctx(request), listing_id)
    return PreviewOut.model_validate(
        found | {"synthetic_rows": found["synthetic_rows"][:synthetic_rows]}
    )


@router.get(
    "/grants/{grant_id}/agreement",
    tags=["grants"],
    response_class=Response,
    responses={200: {"content": {"application/ld+json": {}}}},
)
async def get_agreement(grant_id: str, principal: Anyone, request: Request) -> Response:
    """The grant's ODRL agreement (JSON-LD, RFC 8785 canonical: its SHA-256 is the
    ``agreement_sha256`` of ``grant.issued``); for the buyer, the publishing
    organisation, regulators and operators."""
    stored = await _run(agreements.get_agreement, _ctx(request), _caller(principal), grant_id)
    return Response(
        content=stored.document.encode("utf-8"),
        media_type="application/ld+json",
        headers={"X-Agreement-SHA256": stored.sha256},
    )


@router.post("/grants/{grant_id}/terminate", response_model=GrantOut, tags=["grants"])
async def terminate(
    grant_id: str, body: TerminateIn, principal: Anyone, request: Request
) -> GrantOut:
    """End a grant early and delete its extract; ``grant.terminated`` tells orders the refund.

    A regulator or operator: any refund; the publishing organisation (provider role),
    for a breach: ``none``; the buyer, if the listing allows it: ``pro_rata``.
    """
    grant = await _run(
        termination.terminate_grant,
        _ctx(request),
        _caller(principal),
        grant_id,
        body.reason,
        body.refund,
    )
    facts = await asyncio.to_thread(agreements.facts_of, _ctx(request), [grant.id])
    return GrantOut.of(grant).with_terms(facts.get(grant.id))


@router.get("/published-grants", response_model=GrantPage, tags=["grants"])
async def published_grants(
    principal: Provider,
    request: Request,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> GrantPage:
    """Grants on the caller's organisation's listings, newest first (provider role):
    the ones it may terminate for a breach."""
    ctx = _ctx(request)
    found, total = await _run(
        termination.published_grants, ctx, _caller(principal), (page - 1) * page_size, page_size
    )
    facts = await asyncio.to_thread(agreements.facts_of, ctx, [g.id for g in found])
    return GrantPage(
        items=[GrantOut.of(g).with_terms(facts.get(g.id)) for g in found],
        page=page,
        page_size=page_size,
        total=total,
    )
