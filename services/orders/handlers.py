"""Use cases of orders: each state change commits together with its outbox events.

A call to an online payment provider never runs inside a database transaction: the
order (with the idempotency key it will use) is committed first, the provider is called,
and the answer is recorded in a second transaction. A crash in between leaves a
``placed`` order whose retry asks the provider with the same key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from services.common.auth import Principal
from services.common.db import transaction
from services.common.faults import STRIPE_AFTER_CALL
from services.common.outbox import add_event
from services.common.signed_json import SignatureInvalid, SignedJsonVerifier
from services.contracts import orders as events
from services.contracts._base import RevenueSplit
from services.orders.adapters.order_writer import NewOrder, OrderWriter
from services.orders.adapters.orm import (
    InvoiceRow,
    OrderRepository,
    StripeEventRow,
    book,
    idempotency_record,
    idempotency_values,
    insert_new_order,
    outbox_values,
    publisher_of,
    sale_lines_of,
    stage_event,
)
from services.orders.adapters.payments import PaymentPort, PaymentState
from services.orders.domain.errors import Conflict, ListingNotKnown, OrdersError, QuoteRejected
from services.orders.domain.model import UNPAID, Order, OrderStatus
from services.orders.domain.quote_terms import QuoteTerms
from services.orders.domain.settlement import refund_lines, sale_lines

SOURCE = "/vndx/orders"
log = logging.getLogger(__name__)


class NotFound(LookupError):
    """The order does not exist or the caller may not see it (404)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class OrdersContext:
    """What the use cases need: database, payment provider, quote key, relay nudge."""

    engine: Engine
    payments: PaymentPort
    quote_verifier: SignedJsonVerifier
    payment_window: timedelta
    wake_relay: Callable[[], None] = lambda: None
    fault: Callable[[str], None] = lambda point: None
    clock: Callable[[], datetime] = field(default=_utcnow)
    publishers: dict[str, str] = field(default_factory=dict)
    lock: AbstractContextManager[Any] = field(default_factory=contextlib.nullcontext)
    """Held around each transaction: a threading.Lock on SQLite, which has one writer
    anyway, so that threads queue here instead of in SQLite's sleeping busy handler."""
    writer: OrderWriter = field(init=False)

    def __post_init__(self) -> None:
        self.writer = OrderWriter(self.engine, self.lock)


@contextlib.contextmanager
def _tx(ctx: OrdersContext) -> Iterator[Session]:
    with ctx.lock, transaction(ctx.engine) as session:
        yield session


# --- events -----------------------------------------------------------------------------


def _split(order: Order) -> RevenueSplit:
    s = order.terms.split
    return RevenueSplit(
        platform_fee=s.platform_fee,
        agency_share=s.agency_share,
        budget_share=s.budget_share,
        vat=s.vat,
    )


def _ids(order: Order) -> dict[str, str]:
    return {
        "order_id": order.id,
        "buyer_org": order.buyer_org,
        "listing_id": order.terms.listing_id,
    }


def _placed_event(order: Order) -> events.OrderPlaced:
    t = order.terms
    return events.OrderPlaced(
        **_ids(order),
        quote_id=t.id,
        publisher_org=order.publisher_org,
        listing_version=t.listing_version,
        product=t.product,
        duration_days=t.duration_days,
        total=t.total,
        currency=t.currency,
        placed_at=order.placed_at,
    )


def _pay(session: Session, order: Order, now: datetime) -> None:
    """Mark paid, book the revenue split and announce it, in the caller's transaction."""
    if order.is_waiver and order.status == OrderStatus.PLACED:
        order.settle_waiver(now)
    else:
        order.mark_paid(now)
    book(session, sale_lines(order.id, order.publisher_org, order.terms.split, now))
    t = order.terms
    add_event(
        session,
        events.OrderPaid(
            **_ids(order),
            quote_id=t.id,
            publisher_org=order.publisher_org,
            listing_version=t.listing_version,
            product=t.product,
            duration_days=t.duration_days,
            total=t.total,
            currency=t.currency,
            split=_split(order),
            payment_provider="waiver" if order.is_waiver else order.provider,
            paid_at=now,
            purpose=t.purpose,
        ),
        source=SOURCE,
    )


def _refunded(session: Session, order: Order, refund_ref: str, now: datetime) -> None:
    order.complete_refund(refund_ref, now)
    book(session, refund_lines(sale_lines_of(session, order.id), now))
    add_event(
        session,
        events.OrderRefunded(**_ids(order), amount=order.total, reason=order.reason or "refund"),
        source=SOURCE,
    )


def _close(session: Session, order: Order, reason: str, now: datetime, *, expire: bool) -> None:
    order.expire(now) if expire else order.cancel(reason, now)
    add_event(
        session, events.OrderCancelled(**_ids(order), reason=order.reason or reason), source=SOURCE
    )


# --- placing an order -------------------------------------------------------------------


def _request_digest(document: dict[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_quote(ctx: OrdersContext, document: dict[str, Any]) -> QuoteTerms:
    """The quote's terms, if pricing's key signed exactly this document and it is well formed.

    The signature is checked first, over the document as received: a quote from pricing
    always parses, so anything else is named as what it is, a document pricing did not sign.
    """
    try:
        ctx.quote_verifier.verify(document)
    except SignatureInvalid as exc:
        raise QuoteRejected(
            f"the quote's signature does not verify: {exc}", field=f"quote.{exc.field}"
        ) from exc
    try:
        return QuoteTerms.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in ("quote", *first["loc"]))
        raise QuoteRejected(f"{where}: {first['msg']}", field=where) from exc


def _replay(session: Session, principal: Principal, key: str, digest: str) -> Order | None:
    found = idempotency_record(session, principal.org, key)
    if found is None:
        return None
    if found[0] != digest:
        raise Conflict(
            "this Idempotency-Key was used with a different body", field="Idempotency-Key"
        )
    order = OrderRepository(session).get(found[1])
    assert order is not None
    return order


def place_order(
    ctx: OrdersContext, principal: Principal, document: dict[str, Any], key: str
) -> tuple[Order, bool]:
    """Create the order for a signed quote (or return the one this key made); True if new.

    The new order is inserted without looking for its key first: a retry collides on the
    key's primary key (or the quote's unique id) and is then answered from what exists.
    """
    digest = _request_digest(document)
    terms = read_quote(ctx, document)
    try:
        order = _create(ctx, principal, terms, document, key, digest)
    except (IntegrityError, OrdersError) as refusal:
        # A retry with this key (maybe after the quote expired), or a concurrent one.
        with _tx(ctx) as session:
            earlier = _replay(session, principal, key, digest)
        if earlier is not None:
            return _resume(ctx, earlier), False
        if isinstance(refusal, OrdersError):
            raise
        raise Conflict("an order for this quote already exists", field="quote.id") from None
    ctx.wake_relay()
    return _resume(ctx, order), True


def _publisher(ctx: OrdersContext, listing_id: str) -> str:
    """Who publishes a listing; a listing never changes organisation, so hits are kept."""
    publisher = ctx.publishers.get(listing_id)
    if publisher is None:
        with _tx(ctx) as session:
            publisher = publisher_of(session, listing_id)
        if publisher is None:
            raise ListingNotKnown(
                "listing not known yet, retry in a few seconds", field="quote.listing_id"
            )
        ctx.publishers[listing_id] = publisher
    return publisher


def _create(
    ctx: OrdersContext,
    principal: Principal,
    terms: QuoteTerms,
    document: dict[str, Any],
    key: str,
    digest: str,
) -> Order:
    now = ctx.clock()
    terms.check_usable_by(principal.org, now)
    publisher = _publisher(ctx, terms.listing_id)
    if terms.total != 0:
        return ctx.writer.write(
            _new_order(ctx, principal, terms, document, key, digest, publisher, now)
        )
    order = Order.place(
        terms,
        publisher_org=publisher,
        provider=ctx.payments.name,
        now=now,
        payment_window=ctx.payment_window,
    )
    with _tx(ctx) as session:
        stage_event(session, outbox_values(_placed_event(order), source=SOURCE))
        _pay(session, order, now)
        document_json = json.dumps(document, ensure_ascii=False)
        insert_new_order(session, order, document_json, principal.org, key, digest)
    return order


def _new_order(
    ctx: OrdersContext,
    principal: Principal,
    terms: QuoteTerms,
    document: dict[str, Any],
    key: str,
    digest: str,
    publisher: str,
    now: datetime,
) -> NewOrder:
    """Every row of a new order to be paid later, prepared outside any lock."""
    order = Order.place(
        terms,
        publisher_org=publisher,
        provider=ctx.payments.name,
        now=now,
        payment_window=ctx.payment_window,
    )
    return NewOrder(
        order=order,
        quote_document=json.dumps(document, ensure_ascii=False),
        key_values=idempotency_values(principal.org, key, digest, order.id),
        outbox_values=outbox_values(_placed_event(order), source=SOURCE),
        invoice_at=now if ctx.payments.offline else None,
    )


def quick_new_order(
    ctx: OrdersContext, principal: Principal, document: dict[str, Any], key: str
) -> NewOrder | None:
    """The common case decided without reading the database, ready for the writer.

    A valid, unexpired quote of the caller for a listing already known in this process,
    to be invoiced by the local provider. Anything else (refusals, waivers, Stripe, an
    unknown listing) is None: ``place_order`` handles it, retries included.
    """
    if not ctx.payments.offline:
        return None
    try:
        terms = read_quote(ctx, document)
        now = ctx.clock()
        terms.check_usable_by(principal.org, now)
    except OrdersError:
        return None
    publisher = ctx.publishers.get(terms.listing_id)
    if publisher is None or terms.total == 0:
        return None
    digest = _request_digest(document)
    return _new_order(ctx, principal, terms, document, key, digest, publisher, now)


def _resume(ctx: OrdersContext, order: Order) -> Order:
    """Open the online payment of an order that has none yet (after a crash, too)."""
    if ctx.payments.offline or order.status != OrderStatus.PLACED or order.payment_ref:
        return order
    return open_online_payment(ctx, order.id)


def open_online_payment(ctx: OrdersContext, order_id: str) -> Order:
    with _tx(ctx) as session:
        order = OrderRepository(session).get(order_id)
    if order is None:
        raise NotFound(order_id)
    opening = ctx.payments.open_payment(order)
    ctx.fault(STRIPE_AFTER_CALL)
    assert opening.reference is not None
    with _tx(ctx) as session:
        repo = OrderRepository(session)
        order = repo.get(order_id, for_update=True)
        assert order is not None
        if order.status == OrderStatus.PLACED:
            order.await_payment(opening.reference, opening.client_secret)
            repo.save(order)
    return order


# --- reading ----------------------------------------------------------------------------


def _visible(session: Session, principal: Principal, order_id: str, *, lock: bool = False) -> Order:
    order = OrderRepository(session).get(order_id, for_update=lock)
    if order is None or not (principal.is_operator() or order.buyer_org == principal.org):
        raise NotFound(order_id)
    return order


def get_order(ctx: OrdersContext, principal: Principal, order_id: str) -> Order:
    with _tx(ctx) as session:
        return _visible(session, principal, order_id)


def list_orders(
    ctx: OrdersContext, principal: Principal, offset: int, limit: int
) -> tuple[list[Order], int]:
    scope = None if principal.is_operator() else principal.org
    with _tx(ctx) as session:
        return OrderRepository(session).page(scope, offset, limit)


# --- buyer and operator actions ---------------------------------------------------------


def cancel_order(ctx: OrdersContext, principal: Principal, order_id: str) -> Order:
    """Cancel before payment; an online payment is cancelled at the provider first."""
    with _tx(ctx) as session:
        order = _visible(session, principal, order_id)
    if order.status in UNPAID:
        ctx.payments.cancel_payment(order)
    with _tx(ctx) as session:
        order = _visible(session, principal, order_id, lock=True)
        _close(
            session,
            order,
            f"cancelled by {principal.role} {principal.subject}",
            ctx.clock(),
            expire=False,
        )
        OrderRepository(session).save(order)
    ctx.wake_relay()
    return order


def settle_invoice(
    ctx: OrdersContext, principal: Principal, order_id: str, bank_reference: str | None
) -> Order:
    """An operator records that the bank transfer for a local invoice arrived."""
    with _tx(ctx) as session:
        order = _visible(session, principal, order_id, lock=True)
        if order.provider != "local":
            raise Conflict(
                "only local-provider invoices are settled by an operator", field="provider"
            )
        _pay(session, order, ctx.clock())
        OrderRepository(session).save(order)
        invoice = session.get(InvoiceRow, _invoice_number(session, order.id))
        if invoice is not None:
            invoice.bank_reference = bank_reference
            invoice.settled_by = principal.subject
            session.add(invoice)
    ctx.wake_relay()
    return order


def _invoice_number(session: Session, order_id: str) -> int | None:
    return session.exec(select(InvoiceRow.number).where(InvoiceRow.order_id == order_id)).first()


# --- events from access and from the payment provider -----------------------------------


def fulfil(session: Session, order_id: str, grant_id: str, now: datetime) -> None:
    repo = OrderRepository(session)
    order = repo.get(order_id, for_update=True)
    if order is None or order.status == OrderStatus.FULFILLED:
        return
    if order.status != OrderStatus.PAID:
        log.warning("grant %s issued for order %s, which is %s", grant_id, order_id, order.status)
        return
    order.fulfil(grant_id, now)
    repo.save(order)
    add_event(session, events.OrderFulfilled(**_ids(order), grant_id=grant_id), source=SOURCE)


def start_refund(
    session: Session, payments: PaymentPort, order_id: str, reason: str, now: datetime
) -> None:
    """A paid order whose grant failed is refunded; the local provider completes at once."""
    repo = OrderRepository(session)
    order = repo.get(order_id, for_update=True)
    if order is None or order.status != OrderStatus.PAID:
        if order is not None and order.status not in (
            OrderStatus.REFUND_PENDING,
            OrderStatus.REFUNDED,
        ):
            log.warning("grant failed for order %s, which is %s", order_id, order.status)
        return
    order.request_refund(reason)
    if payments.offline:
        refund_ref = payments.refund(order)
        assert refund_ref is not None
        _refunded(session, order, refund_ref, now)
    repo.save(order)


def apply_payment_outcome(
    ctx: OrdersContext, event_id: str, event_type: str, intent: dict[str, Any]
) -> str:
    """Apply one Stripe event once; returns what it did (for logs and tests)."""
    if event_type not in INTENT_EVENTS:
        state: PaymentState | None = None
    elif event_type == "payment_intent.succeeded":
        state = "succeeded"
    else:
        # Events arrive out of order: a failure may be followed by a success, so ask
        # Stripe what the PaymentIntent's state is now.
        state = ctx.payments.payment_state(str(intent["id"]))
    try:
        with _tx(ctx) as session:
            if session.get(StripeEventRow, event_id) is not None:
                return "duplicate"
            session.add(StripeEventRow(event_id=event_id, event_type=event_type))
            outcome = (
                "ignored: event type not used"
                if state is None
                else _apply_intent(ctx, session, intent, state)
            )
    except IntegrityError:
        return "duplicate"
    ctx.wake_relay()
    return outcome


INTENT_EVENTS = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed"})


def _apply_intent(
    ctx: OrdersContext, session: Session, intent: dict[str, Any], state: PaymentState
) -> str:
    repo = OrderRepository(session)
    reference = str(intent["id"])
    order = repo.by_payment_ref(reference)
    if order is None:
        # The crash window: Stripe made the PaymentIntent, orders never recorded it.
        order_id = (intent.get("metadata") or {}).get("order_id")
        order = repo.get(str(order_id), for_update=True) if order_id else None
        if order is None or order.payment_ref is not None:
            return "ignored: no order for this PaymentIntent"
    if order.status == OrderStatus.PLACED:
        order.await_payment(reference)
    if state == "succeeded" and order.status in (
        OrderStatus.AWAITING_PAYMENT,
        OrderStatus.PAYMENT_FAILED,
    ):
        _pay(session, order, ctx.clock())
        outcome = "paid"
    elif state in ("failed", "canceled") and order.status == OrderStatus.AWAITING_PAYMENT:
        error = intent.get("last_payment_error") or {}
        order.fail_payment(str(error.get("message") or "the payment failed"))
        add_event(
            session,
            events.OrderPaymentFailed(**_ids(order), reason=order.reason or ""),
            source=SOURCE,
        )
        outcome = "payment_failed"
    else:
        outcome = f"ignored: payment {state}, order {order.status.value}"
    repo.save(order)
    return outcome


# --- periodic work ----------------------------------------------------------------------


def expire_overdue(ctx: OrdersContext) -> int:
    """Close unpaid orders past their payment deadline; return how many."""
    now = ctx.clock()
    with _tx(ctx) as session:
        ids = OrderRepository(session).overdue_ids(now)
    closed = 0
    for order_id in ids:
        with _tx(ctx) as session:
            order = OrderRepository(session).get(order_id)
        if order is None or order.status not in UNPAID:
            continue
        try:
            ctx.payments.cancel_payment(order)
        except Exception:
            log.info("order %s: payment not cancellable; left open", order_id, exc_info=True)
            continue
        with _tx(ctx) as session:
            repo = OrderRepository(session)
            order = repo.get(order_id, for_update=True)
            if order is None or order.status not in UNPAID:
                continue
            _close(session, order, "expired", now, expire=True)
            repo.save(order)
            closed += 1
    if closed:
        ctx.wake_relay()
    return closed


def complete_refunds(ctx: OrdersContext) -> int:
    """Ask the online provider to refund each refund_pending order; record those done."""
    with _tx(ctx) as session:
        ids = OrderRepository(session).ids_in([OrderStatus.REFUND_PENDING])
    done = 0
    for order_id in ids:
        with _tx(ctx) as session:
            order = OrderRepository(session).get(order_id)
        if order is None:
            continue
        refund_ref = ctx.payments.refund(order)
        if refund_ref is None:
            continue
        with _tx(ctx) as session:
            repo = OrderRepository(session)
            order = repo.get(order_id, for_update=True)
            if order is None or order.status != OrderStatus.REFUND_PENDING:
                continue
            _refunded(session, order, refund_ref, ctx.clock())
            repo.save(order)
            done += 1
    if done:
        ctx.wake_relay()
    return done


def resume_openings(ctx: OrdersContext, older_than: timedelta) -> int:
    """Open the payments of orders left ``placed`` by a crash (same idempotency key)."""
    if ctx.payments.offline:
        return 0
    cutoff = ctx.clock() - older_than
    with _tx(ctx) as session:
        stale = [
            order_id
            for order_id in OrderRepository(session).ids_in([OrderStatus.PLACED])
            if (o := OrderRepository(session).get(order_id)) is not None
            and o.payment_ref is None
            and o.placed_at <= cutoff
        ]
    for order_id in stale:
        open_online_payment(ctx, order_id)
    return len(stale)
