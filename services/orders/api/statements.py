"""Settlement statements: a provider's month (JSON or CSV) and the operator's totals."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.common.api import ApiError
from services.common.api import require_roles as caller_in
from services.common.auth import Principal
from services.common.downloads import content_disposition
from services.orders.api.routes import orders_context, run
from services.orders.api.schemas import StatementOut, TotalsOut
from services.orders.statements import Statement, month_totals, provider_statement

router = APIRouter(prefix="/v1/statements")

Month = Annotated[str, Query(pattern=r"^2\d{3}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
Reader = Annotated[Principal, Depends(caller_in("provider", "operator"))]
Operator = Annotated[Principal, Depends(caller_in("operator"))]


def _csv(statement: Statement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["order_id", "entry", "part", "party", "amount", "booked_at"])
    for line in statement.lines:
        writer.writerow(
            [
                line.order_id,
                line.entry,
                line.part,
                line.party,
                line.amount,
                line.booked_at.isoformat(),
            ]
        )
    return out.getvalue()


@router.get(
    "",
    response_model=StatementOut,
    tags=["statements"],
    responses={200: {"content": {"text/csv": {}}}},
)
async def statement(
    principal: Reader,
    request: Request,
    month: Month,
    org: Annotated[str | None, Query(max_length=64, description="operators: whose")] = None,
    format: Annotated[str | None, Query(pattern="^(json|csv)$")] = None,
) -> StatementOut | Response:
    """A provider's settlement lines for one month (sales positive, refunds negative)."""
    if principal.is_operator():
        if not org:
            raise ApiError(
                422, "invalid_request", "org: operators say whose statement", field="org"
            )
    elif org not in (None, principal.org):
        raise ApiError(403, "forbidden", "a provider reads only its own statement", field="org")
    found: Statement = await run(
        provider_statement, orders_context(request).engine, org or principal.org, month
    )
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    if wants_csv:
        return Response(
            _csv(found),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": content_disposition(f"statement-{found.org}-{month}.csv")
            },
        )
    return StatementOut.of(found)


@router.get("/totals", response_model=TotalsOut, tags=["statements"])
async def totals(principal: Operator, request: Request, month: Month) -> TotalsOut:
    """Per agency, for the state budget, the platform and VAT; reconciled with the orders."""
    return TotalsOut.of(await run(month_totals, orders_context(request).engine, month))
