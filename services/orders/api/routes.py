"""Routes of orders (``/v1/orders``): place, read, cancel, settle, approve; ``/v1/approvals``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.exc import IntegrityError

from services.common.api import ApiError, not_found
from services.common.api import current_principal as caller
from services.common.api import require_roles as caller_in
from services.common.auth import Principal
from services.orders import handlers
from services.orders.adapters.payments import PaymentAlreadyMade, PaymentProviderError
from services.orders.api.schemas import (
    ApprovalIn,
    OrderOut,
    OrderPage,
    PlaceOrderIn,
    SettleIn,
)
from services.orders.domain.errors import (
    Conflict,
    InvalidTransition,
    ListingNotKnown,
    OrdersError,
    PolicyNotAccepted,
    PurposeNotAllowed,
    QuoteNotYours,
)

router = APIRouter(prefix="/v1")
T = TypeVar("T")

Buyer = Annotated[Principal, Depends(caller_in("buyer"))]
Operator = Annotated[Principal, Depends(caller_in("operator"))]
Provider = Annotated[Principal, Depends(caller_in("provider"))]
ApprovalReader = Annotated[Principal, Depends(caller_in("provider", "operator"))]
Caller = Annotated[Principal, Depends(caller)]


def orders_context(request: Request) -> handlers.OrdersContext:
    ctx: handlers.OrdersContext = request.app.state.orders
    return ctx


def refusal(exc: OrdersError) -> ApiError:
    if isinstance(exc, ListingNotKnown):
        return ApiError(
            409, "listing_not_known", exc.message, field=exc.field, headers={"Retry-After": "2"}
        )
    if isinstance(exc, PolicyNotAccepted):
        return ApiError(409, "policy_not_accepted", exc.message, field=exc.field)
    if isinstance(exc, InvalidTransition | Conflict):
        return ApiError(409, "conflict", exc.message, field=exc.field)
    if isinstance(exc, QuoteNotYours):
        return ApiError(403, "forbidden", exc.message, field=exc.field)
    if isinstance(exc, PurposeNotAllowed):
        return ApiError(422, "purpose_not_allowed", exc.message, field=exc.field)
    return ApiError(422, "invalid_quote", exc.message, field=exc.field)


async def run(func: Any, *args: Any) -> Any:
    """Run a use case off the event loop and turn its refusals into HTTP errors."""
    return await answer(asyncio.to_thread(func, *args))


async def answer(work: Awaitable[T]) -> T:
    """Await a use case's outcome, its refusals turned into HTTP errors."""
    try:
        return await work
    except handlers.NotFound as exc:
        raise not_found("order") from exc
    except OrdersError as exc:
        raise refusal(exc) from exc
    except PaymentAlreadyMade as exc:
        raise ApiError(409, "conflict", f"the order is already paid: {exc}") from exc
    except PaymentProviderError as exc:
        raise ApiError(
            502, "payment_provider_unavailable", str(exc), headers={"Retry-After": "5"}
        ) from exc


@router.post("/orders", status_code=201, response_model=OrderOut, tags=["orders"])
async def place_order(
    body: PlaceOrderIn,
    principal: Buyer,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> OrderOut:
    """Order the access a signed quote describes; retry safely with the same Idempotency-Key."""
    if not idempotency_key or not idempotency_key.strip():
        raise ApiError(
            400,
            "idempotency_key_required",
            "the Idempotency-Key header is required (any unique string per order)",
            field="Idempotency-Key",
        )
    ctx = orders_context(request)
    # The common case skips the worker thread: the quote is checked here (a fraction of a
    # millisecond) and the event loop awaits the order writer. A clash (a retried key)
    # falls through to the general use case, which answers retries.
    new = (
        None
        if body.renews_grant_id
        else handlers.quick_new_order(
            ctx, principal, body.quote, idempotency_key, body.accept_policy
        )
    )
    if new is not None:
        with contextlib.suppress(IntegrityError):
            order = await asyncio.wrap_future(ctx.writer.submit(new))
            ctx.wake_relay()
            return OrderOut.of(order)
    order, created = await run(
        handlers.place_order,
        ctx,
        principal,
        body.quote,
        idempotency_key,
        body.accept_policy,
        body.renews_grant_id,
    )
    if not created:
        response.status_code = 200
    return OrderOut.of(order)


@router.get("/orders", response_model=OrderPage, tags=["orders"])
async def list_orders(
    principal: Caller,
    request: Request,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> OrderPage:
    """The caller's organisation's orders, newest first (operators: every order)."""
    found, total = await run(
        handlers.list_orders, orders_context(request), principal, (page - 1) * page_size, page_size
    )
    return OrderPage(
        items=[OrderOut.of(o) for o in found], page=page, page_size=page_size, total=total
    )


@router.get("/orders/{order_id}", response_model=OrderOut, tags=["orders"])
async def get_order(order_id: str, principal: Caller, request: Request) -> OrderOut:
    """One order the caller's organisation bought (providers: also of its own listings)."""
    return OrderOut.of(await run(handlers.get_order, orders_context(request), principal, order_id))


@router.post("/orders/{order_id}/cancel", response_model=OrderOut, tags=["orders"])
async def cancel_order(order_id: str, principal: Caller, request: Request) -> OrderOut:
    """Cancel an order before it is paid (409 afterwards)."""
    return OrderOut.of(
        await run(handlers.cancel_order, orders_context(request), principal, order_id)
    )


@router.post("/orders/{order_id}/settle", response_model=OrderOut, tags=["orders"])
async def settle_order(
    order_id: str, principal: Operator, request: Request, body: SettleIn | None = None
) -> OrderOut:
    """Record that the bank transfer for a local invoice arrived (operators)."""
    reference = body.bank_reference if body else None
    ctx = orders_context(request)
    # Settled by the order writer, with the orders placed meanwhile: no worker thread.
    settled = handlers.settlement(ctx, principal, order_id, reference)
    order = await answer(asyncio.wrap_future(settled))
    ctx.wake_relay()
    return OrderOut.of(order)


@router.post("/orders/{order_id}/approval", response_model=OrderOut, tags=["approvals"])
async def decide(
    order_id: str, body: ApprovalIn, principal: Provider, request: Request
) -> OrderOut:
    """The publishing organisation approves or rejects a request awaiting its approval.

    404 for another organisation's order; 409 once decided or past the deadline.
    """
    return OrderOut.of(
        await run(
            handlers.decide, orders_context(request), principal, order_id, body.decision, body.note
        )
    )


@router.get("/approvals", response_model=OrderPage, tags=["approvals"])
async def list_approvals(
    principal: ApprovalReader,
    request: Request,
    state: Annotated[
        Literal["pending", "decided", "all"],
        Query(description="pending: oldest deadline first; otherwise newest first"),
    ] = "pending",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> OrderPage:
    """Requests for the caller's organisation's listings (operators: every publisher's)."""
    found, total = await run(
        handlers.list_approvals,
        orders_context(request),
        principal,
        state,
        (page - 1) * page_size,
        page_size,
    )
    return OrderPage(
        items=[OrderOut.of(o) for o in found], page=page, page_size=page_size, total=total
    )
