"""Operators' and leaders' dashboard: revenue, state-budget share, activity, access delay."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.common.downloads import content_disposition
from services.portal.kpi_tables import (
    DIMENSIONS,
    Chart,
    access_delay_by_month,
    activity_by,
    revenue_by_month,
)
from services.portal.pages.public import vocabulary
from services.portal.web import lang_of, portal_of, render, require_role

router = APIRouter()
Dimension = Annotated[str, Query(pattern="^(theme|agency|province)$")]


async def _charts(request: Request, dimension: str) -> dict[str, Chart]:
    session = require_role(request, "operator", "regulator")
    backends = portal_of(request).backends

    async def table(period: str, dim: str) -> list[dict[str, object]]:
        found = await backends.get(
            "audit", "/v1/kpis", params={"period": period, "dimension": dim}, token=session.token
        )
        items: list[dict[str, object]] = found["items"]
        return items

    by_agency = await table("month", "agency")
    by_dimension = by_agency if dimension == "agency" else await table("month", dimension)
    charts = [
        revenue_by_month(by_agency),
        activity_by(by_dimension, dimension),
        access_delay_by_month(by_agency),
    ]
    names = await _names(request, dimension)
    charts[1] = replace(
        charts[1], rows=[(names.get(label, label), values) for label, values in charts[1].rows]
    )
    return {chart.key.split("-")[0]: chart for chart in charts}


async def _names(request: Request, dimension: str) -> dict[str, str]:
    """Theme and province codes as people read them, in their language."""
    vocab = await vocabulary(portal_of(request))
    if dimension == "theme":
        return {code: label[lang_of(request)] for code, label in vocab["themes"].items()}
    if dimension == "province":
        return dict(vocab["provinces"])
    return {}


@router.get("/kpis", response_class=HTMLResponse)
async def dashboard(request: Request, dimension: Dimension = "theme") -> Response:
    charts = await _charts(request, dimension)
    return render(
        request,
        "kpis.html",
        charts=charts,
        dimension=dimension,
        dimensions=DIMENSIONS,
        chart_data={key: chart.data() for key, chart in charts.items()},
    )


@router.get("/kpis/{key}.csv")
async def chart_csv(request: Request, key: str, dimension: Dimension = "theme") -> Response:
    charts = await _charts(request, dimension)
    if key not in charts:
        raise HTTPException(404)
    name = f"vndx-{charts[key].key}.csv"
    return Response(
        charts[key].csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition(name)},
    )
