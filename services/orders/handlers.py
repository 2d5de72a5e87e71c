"""Use cases of orders: each state change commits together with its outbox events.

A call to an online payment provider never runs inside a database transaction: the
order (with the idempotency key it will use) is committed first, the provider is called,
and the answer is recorded in a second transaction. A crash in between leaves a
``placed`` order whose retry asks the provider with the same key.

An order rests on the listing's usage policy: the buyer sends the RFC 8785 SHA-256 of
the ODRL offer catalog serves, and orders compares it with the offer it rebuilds from
the listing snapshot it consumed. A listing whose publisher approves each request puts
the order in ``awaiting_approval`` until the publisher decides or the deadline passes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.common.auth import Principal
from services.common.db import reading, transaction
from services.common.faults import STRIPE_AFTER_CALL
from services.common.outbox import add_event, outbox_row_values
from services.common.signed_json import SignatureInvalid, SignedJsonVerifier
from services.common.usage_policy import offer, policy_sha256
from services.contracts import access
from services.contracts import orders as events
from services.contracts._base import RevenueSplit
from services.contracts.catalog import ListingSnapshot
from services.orders.adapters.order_writer import NewOrder, OrderWriter
from services.orders.adapters.orm import (
    InvoiceRow,
    OrderRepository,
    StripeEventRow,
    book,
    idempotency_record,
    idempotency_values,
    insert_new_order,
    listing_document,
    listing_snapshots,
    record_settlement,
    sale_lines_of,
)
from services.orders.adapters.payments import PaymentPort, PaymentProviderError, PaymentState
from services.orders.domain.approval import Decision, add_working_days
from services.orders.domain.errors import (
    Conflict,
    ListingNotKnown,
    OrdersError,
    PolicyNotAccepted,
    PurposeNotAllowed,
    QuoteRejected,
)
from services.orders.domain.model import UNPAID, Order, OrderStatus
from services.orders.domain.quote_terms import QuoteTerms
from services.orders.domain.settlement import (
    invoice_reference,
    refund_amount,
    refund_lines,
    sale_lines,
)

SOURCE = "/vndx/orders"
log = logging.getLogger(__name__)
#: How long the quick path trusts a listing's cached terms. The periodic job re-reads them
#: every sweep (``refresh_listings``) and a listing event drops them at once; the general
#: path always reads the database, so a buyer holding a newer policy is never refused.
LISTING_CACHE_S = 15.0


class NotFound(LookupError):
    """The order does not exist or the caller may not see it (404)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ListingTerms:
    """What placing an order needs from a listing's snapshot."""

    publisher: str
    approval: str
    policy_sha256: str
    allowed_purposes: frozenset[str]
    loaded_at: float
    snapshot: str
    """The snapshot's JSON as stored: unchanged, the terms need no new hash."""

    @classmethod
    def of(cls, listing: ListingSnapshot, iri_base: str) -> ListingTerms:
        return cls(
            publisher=listing.org,
            approval=listing.approval,
            policy_sha256=policy_sha256(offer(listing, iri_base)),
            allowed_purposes=frozenset(listing.allowed_purposes),
            loaded_at=time.monotonic(),
            snapshot=listing.model_dump_json(),
        )


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
    iri_base: str = "http://127.0.0.1:8101"
    """Base of the policy IRIs; the same as catalog's, or no offer hash would match."""
    approval_working_days: int = 5
    listings: dict[str, ListingTerms] = field(default_factory=dict)
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


def _terms(order: Order) -> dict[str, Any]:
    """What order.placed and order.paid both say of the quoted terms and the agreement."""
    t = order.terms
    return {
        "quote_id": t.id,
        "publisher_org": order.publisher_org,
        "listing_version": t.listing_version,
        "product": t.product,
        "duration_days": t.duration_days,
        "total": t.total,
        "currency": t.currency,
        "purpose": t.purpose,
        "justification": t.justification,
        "policy_sha256": order.policy_sha256,
    }


def _placed_event(order: Order) -> events.OrderPlaced:
    return events.OrderPlaced(
        **_ids(order), **_terms(order), placed_at=order.placed_at, approval=order.approval
    )


def _pay(session: Session, order: Order, now: datetime) -> None:
    """Mark paid, book the revenue split and announce it, in the caller's transaction."""
    if order.is_waiver and order.status in (OrderStatus.PLACED, OrderStatus.AWAITING_PAYMENT):
        order.settle_waiver(now)
    else:
        order.mark_paid(now)
    book(session, sale_lines(order.id, order.publisher_org, order.terms.split, now))
    paid = events.OrderPaid(
        **_ids(order),
        **_terms(order),
        split=_split(order),
        payment_provider="waiver" if order.is_waiver else order.provider,
        paid_at=now,
        renews_grant_id=order.renews_grant_id,
    )
    add_event(session, paid, source=SOURCE)


def _refunded(session: Session, order: Order, refund_ref: str, now: datetime) -> None:
    order.complete_refund(refund_ref, now)
    amount = order.total if order.refund_amount is None else order.refund_amount
    book(session, refund_lines(sale_lines_of(session, order.id), now, amount))
    add_event(
        session,
        events.OrderRefunded(**_ids(order), amount=amount, reason=order.reason or "refund"),
        source=SOURCE,
    )


def _close(session: Session, order: Order, reason: str, now: datetime, *, expire: bool) -> None:
    order.expire(now) if expire else order.cancel(reason, now)
    add_event(
        session, events.OrderCancelled(**_ids(order), reason=order.reason or reason), source=SOURCE
    )


# --- placing an order -------------------------------------------------------------------


def _request_digest(
    document: dict[str, Any], accept_policy: str | None, renews_grant_id: str | None = None
) -> str:
    body = {"quote": document, "accept_policy": accept_policy}
    if renews_grant_id is not None:
        body["renews_grant_id"] = renews_grant_id
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
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
    ctx: OrdersContext,
    principal: Principal,
    document: dict[str, Any],
    key: str,
    accept_policy: str | None = None,
    renews_grant_id: str | None = None,
) -> tuple[Order, bool]:
    """Create the order for a signed quote (or return the one this key made); True if new.

    The new order is inserted without looking for its key first: a retry collides on the
    key's primary key (or the quote's unique id) and is then answered from what exists.
    """
    digest = _request_digest(document, accept_policy, renews_grant_id)
    terms = read_quote(ctx, document)
    try:
        order = _create(
            ctx, principal, terms, document, key, digest, accept_policy, renews_grant_id
        )
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


def load_listing(ctx: OrdersContext, listing_id: str) -> ListingTerms:
    """A listing's terms as the database holds them now (and kept for the quick path).

    The policy hash is computed again only when the stored snapshot differs from the one
    the cached terms were made from.
    """
    with reading(ctx.engine) as session:
        document = listing_document(session, listing_id)
    if document is None:
        raise ListingNotKnown(
            "listing not known yet, retry in a few seconds", field="quote.listing_id"
        )
    cached = ctx.listings.get(listing_id)
    if cached is not None and cached.snapshot == document:
        terms = dataclasses.replace(cached, loaded_at=time.monotonic())
    else:
        listing = ListingSnapshot.model_validate_json(document)
        terms = ListingTerms.of(listing, ctx.iri_base)
    ctx.listings[listing_id] = terms
    return terms


def refresh_listings(ctx: OrdersContext) -> int:
    """Re-read the cached listings' snapshots (one query), off the request path.

    The quick path then keeps serving without a database read, and a change made through
    another replica's consumer is seen within one sweep. Returns how many changed.
    """
    cached = list(ctx.listings)
    if not cached:
        return 0
    with reading(ctx.engine) as session:
        stored = listing_snapshots(session, cached)
    now, changed = time.monotonic(), 0
    for listing_id, document in stored.items():
        current = ctx.listings.get(listing_id)
        if current is not None and current.snapshot == document:
            ctx.listings[listing_id] = dataclasses.replace(current, loaded_at=now)
        else:
            listing = ListingSnapshot.model_validate_json(document)
            ctx.listings[listing_id] = ListingTerms.of(listing, ctx.iri_base)
            changed += 1
    return changed


def forget_listing(ctx: OrdersContext, listing_id: str) -> None:
    """A listing event arrived: the next order reads its terms again."""
    ctx.listings.pop(listing_id, None)


def check_acceptance(listing: ListingTerms, terms: QuoteTerms, accept_policy: str | None) -> None:
    """The buyer accepted this listing's current usage policy for an allowed purpose."""
    if not accept_policy:
        raise PolicyNotAccepted(
            "accept_policy is required: the SHA-256 (RFC 8785) of the usage policy "
            f"GET /v1/listings/{terms.listing_id}/policy returns",
            field="accept_policy",
        )
    if accept_policy != listing.policy_sha256:
        raise PolicyNotAccepted(
            "accept_policy is not the hash of the listing's current usage policy; fetch "
            f"GET /v1/listings/{terms.listing_id}/policy again and accept that one",
            field="accept_policy",
        )
    if terms.purpose is not None and terms.purpose not in listing.allowed_purposes:
        raise PurposeNotAllowed(
            f"the listing does not allow the purpose {terms.purpose!r}; it allows "
            + ", ".join(sorted(listing.allowed_purposes)),
            field="quote.purpose",
        )


def _create(
    ctx: OrdersContext,
    principal: Principal,
    terms: QuoteTerms,
    document: dict[str, Any],
    key: str,
    digest: str,
    accept_policy: str | None,
    renews_grant_id: str | None = None,
) -> Order:
    now = ctx.clock()
    terms.check_usable_by(principal.org, now)
    listing = load_listing(ctx, terms.listing_id)
    check_acceptance(listing, terms, accept_policy)
    if terms.total != 0 and listing.approval != "provider":
        new = _new_order(ctx, principal, terms, document, key, digest, listing, now)
        new.order.renews_grant_id = renews_grant_id
        return ctx.writer.write(new)
    order = _placed(ctx, terms, listing, now)
    order.renews_grant_id = renews_grant_id
    with _tx(ctx) as session:
        add_event(session, _placed_event(order), source=SOURCE)
        if listing.approval == "provider":
            order.await_approval(add_working_days(now, ctx.approval_working_days))
            add_event(session, _awaiting_approval_event(order), source=SOURCE)
        else:
            _pay(session, order, now)
        document_json = json.dumps(document, ensure_ascii=False)
        insert_new_order(session, order, document_json, principal.org, key, digest)
    return order


def _placed(ctx: OrdersContext, terms: QuoteTerms, listing: ListingTerms, now: datetime) -> Order:
    return Order.place(
        terms,
        publisher_org=listing.publisher,
        provider=ctx.payments.name,
        now=now,
        payment_window=ctx.payment_window,
        policy_sha256=listing.policy_sha256,
        approval="provider" if listing.approval == "provider" else "automatic",
    )


def _awaiting_approval_event(order: Order) -> events.OrderAwaitingApproval:
    assert order.decide_by is not None
    return events.OrderAwaitingApproval(
        **_ids(order),
        publisher_org=order.publisher_org,
        purpose=order.terms.purpose,
        justification=order.terms.justification,
        decide_by=order.decide_by,
    )


def _new_order(
    ctx: OrdersContext,
    principal: Principal,
    terms: QuoteTerms,
    document: dict[str, Any],
    key: str,
    digest: str,
    listing: ListingTerms,
    now: datetime,
) -> NewOrder:
    """Every row of a new order to be paid later, prepared outside any lock."""
    order = _placed(ctx, terms, listing, now)
    return NewOrder(
        order=order,
        quote_document=json.dumps(document, ensure_ascii=False),
        key_values=idempotency_values(principal.org, key, digest, order.id),
        outbox_values=outbox_row_values(_placed_event(order), source=SOURCE),
        invoice_at=now if ctx.payments.offline else None,
    )


def quick_new_order(
    ctx: OrdersContext,
    principal: Principal,
    document: dict[str, Any],
    key: str,
    accept_policy: str | None = None,
) -> NewOrder | None:
    """The common case decided without reading the database, ready for the writer.

    A valid, unexpired quote of the caller for a listing whose terms this process read
    in the last few seconds, with the policy hash accepted and no approval needed, to be
    invoiced by the local provider. Anything else (refusals, waivers, approvals, Stripe,
    an unknown listing or a stale cache) is None: ``place_order`` handles it.
    """
    if not ctx.payments.offline:
        return None
    try:
        terms = read_quote(ctx, document)
        now = ctx.clock()
        terms.check_usable_by(principal.org, now)
    except OrdersError:
        return None
    listing = ctx.listings.get(terms.listing_id)
    if (
        listing is None
        or time.monotonic() - listing.loaded_at > LISTING_CACHE_S
        or listing.approval == "provider"
        or terms.total == 0
    ):
        return None
    try:
        check_acceptance(listing, terms, accept_policy)
    except OrdersError:
        return None
    digest = _request_digest(document, accept_policy)
    return _new_order(ctx, principal, terms, document, key, digest, listing, now)


def _needs_opening(order: Order) -> bool:
    return order.payment_ref is None and order.status in (
        OrderStatus.PLACED,
        OrderStatus.AWAITING_PAYMENT,
    )


def _resume(ctx: OrdersContext, order: Order) -> Order:
    """Open the online payment of an order that has none yet (after a crash, too)."""
    if ctx.payments.offline or not _needs_opening(order):
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
        if _needs_opening(order):
            order.await_payment(opening.reference, opening.client_secret)
            order.checkout_url = opening.checkout_url
            repo.save(order)
    return order


# --- reading ----------------------------------------------------------------------------


def _visible(session: Session, principal: Principal, order_id: str, *, lock: bool = False) -> Order:
    order = OrderRepository(session).get(order_id, for_update=lock)
    if order is None or not (principal.is_operator() or order.buyer_org == principal.org):
        raise NotFound(order_id)
    return order


def _readable(session: Session, principal: Principal, order_id: str) -> Order:
    """The buyer's, an operator's, or the publishing organisation's provider's view."""
    order = OrderRepository(session).get(order_id)
    publisher = (
        order is not None and principal.role == "provider" and order.publisher_org == principal.org
    )
    if order is None or not (
        principal.is_operator() or order.buyer_org == principal.org or publisher
    ):
        raise NotFound(order_id)
    return order


def get_order(ctx: OrdersContext, principal: Principal, order_id: str) -> Order:
    with reading(ctx.engine) as session:
        return _readable(session, principal, order_id)


def list_orders(
    ctx: OrdersContext, principal: Principal, offset: int, limit: int
) -> tuple[list[Order], int]:
    scope = None if principal.is_operator() else principal.org
    with reading(ctx.engine) as session:
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


def settlement(
    ctx: OrdersContext, principal: Principal, order_id: str, bank_reference: str | None
) -> Future[Order]:
    """Settle a local invoice in the order writer's next transaction (group commit).

    The future fails with NotFound for an order the operator may not see and with a
    refusal (409) for one that is not a local invoice awaiting payment.
    """

    def settle(session: Session) -> Order:
        order = _visible(session, principal, order_id, lock=True)
        if order.provider != "local":
            raise Conflict(
                "only local-provider invoices are settled by an operator", field="provider"
            )
        _pay(session, order, ctx.clock())
        OrderRepository(session).save(order)
        record_settlement(session, order.id, bank_reference, principal.subject)
        return order

    return ctx.writer.submit(settle)


# --- the publisher's approval -----------------------------------------------------------


def decide(
    ctx: OrdersContext, principal: Principal, order_id: str, decision: Decision, note: str
) -> Order:
    """The publishing organisation approves or rejects a request awaiting its approval.

    Another organisation's order is a 404; a decided request or one past its deadline a
    409, with nothing changed. An approved order awaits payment: a local invoice is
    numbered in the same transaction, a Stripe PaymentIntent is opened after the commit.
    """
    now = ctx.clock()
    with _tx(ctx) as session:
        repo = OrderRepository(session)
        order = repo.get(order_id, for_update=True)
        if order is None or order.publisher_org != principal.org:
            raise NotFound(order_id)
        if decision == "approve":
            order.approve(principal.org, note, now, ctx.payment_window)
            add_event(
                session,
                events.OrderApproved(
                    **_ids(order),
                    publisher_org=order.publisher_org,
                    by_org=principal.org,
                    note=note,
                ),
                source=SOURCE,
            )
            if order.is_waiver:
                _pay(session, order, now)
            elif ctx.payments.offline:
                _open_invoice(session, order, now)
        else:
            order.reject(principal.org, note, now)
            add_event(session, _rejected_event(order), source=SOURCE)
        repo.save(order)
    ctx.wake_relay()
    if decision == "approve" and not ctx.payments.offline and _needs_opening(order):
        try:
            order = open_online_payment(ctx, order.id)
        except PaymentProviderError:
            # The approval stands; the periodic job opens the payment with the same key.
            log.warning("order %s approved; its payment opens later", order.id, exc_info=True)
    return order


def _open_invoice(session: Session, order: Order, now: datetime) -> None:
    invoice = InvoiceRow(order_id=order.id, created_at=now)
    session.add(invoice)
    session.flush()
    assert invoice.number is not None
    order.await_payment(invoice_reference(now.year, invoice.number))


def _rejected_event(order: Order) -> events.OrderRejected:
    return events.OrderRejected(
        **_ids(order),
        publisher_org=order.publisher_org,
        by_org=order.decided_by,
        note=order.decision_note or "",
        automatic=order.decided_by is None,
    )


def list_approvals(
    ctx: OrdersContext, principal: Principal, state: str, offset: int, limit: int
) -> tuple[list[Order], int]:
    """Requests for the caller's organisation's listings (operators: every publisher's)."""
    scope = None if principal.is_operator() else principal.org
    pending = {"pending": True, "decided": False}.get(state)
    with reading(ctx.engine) as session:
        return OrderRepository(session).approvals_page(scope, pending, offset, limit)


def reject_undecided(ctx: OrdersContext) -> int:
    """Reject every request still undecided past its deadline; return how many."""
    now = ctx.clock()
    with _tx(ctx) as session:
        ids = OrderRepository(session).undecided_past(now)
    rejected = 0
    for order_id in ids:
        with _tx(ctx) as session:
            repo = OrderRepository(session)
            order = repo.get(order_id, for_update=True)
            if order is None or order.status != OrderStatus.AWAITING_APPROVAL:
                continue
            assert order.decide_by is not None
            if order.decide_by > now:
                continue
            order.reject(
                None,
                "the publisher did not decide by " + order.decide_by.isoformat(),
                now,
            )
            add_event(session, _rejected_event(order), source=SOURCE)
            repo.save(order)
            rejected += 1
    if rejected:
        ctx.wake_relay()
    return rejected


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
    fulfilled = events.OrderFulfilled(**_ids(order), grant_id=grant_id)
    add_event(session, fulfilled, source=SOURCE)


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


def terminate(
    session: Session, payments: PaymentPort, grant: access.GrantTerminated, now: datetime
) -> None:
    """A grant ended early: refund none, all or the unused share, reversing the split.

    Runs in the consumer's transaction; a redelivery finds the order no longer paid or
    fulfilled and changes nothing. The local provider's refund completes at once, an
    online one is asked for by the periodic job (``refund_pending``).
    """
    repo = OrderRepository(session)
    order = repo.get(grant.order_id, for_update=True)
    if order is None or order.status not in (OrderStatus.PAID, OrderStatus.FULFILLED):
        if order is None or order.status not in (
            OrderStatus.TERMINATED,
            OrderStatus.REFUND_PENDING,
            OrderStatus.REFUNDED,
        ):
            log.warning("grant %s terminated for an order not fulfilled", grant.grant_id)
        return
    amount = refund_amount(grant.refund, order.total, grant.remaining_seconds, grant.period_seconds)
    reason = f"grant terminated by {grant.by_role} {grant.by_org}: {grant.reason}"
    if amount == 0:
        order.terminate(reason, now)
        repo.save(order)
        return
    order.request_refund(f"{reason} (refund {grant.refund})", amount)
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
    elif event_type == "payment_intent.succeeded" or (
        event_type == "checkout.session.completed" and intent.get("payment_status") == "paid"
    ):
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


INTENT_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        # Stripe Checkout: the session is the order's payment reference.
        "checkout.session.completed",
        "checkout.session.expired",
    }
)


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
    if order.status in (OrderStatus.AWAITING_APPROVAL, OrderStatus.REJECTED):
        return f"ignored: the order is {order.status.value}, not payable"
    if _needs_opening(order):
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
    """Open the payments of orders a crash left without one (same idempotency key):
    ``placed`` ones, and approved ones whose PaymentIntent could not be opened."""
    if ctx.payments.offline:
        return 0
    cutoff = ctx.clock() - older_than
    with _tx(ctx) as session:
        repo = OrderRepository(session)
        stale = [
            order_id
            for order_id in repo.without_payment()
            if (o := repo.get(order_id)) is not None and (o.decided_at or o.placed_at) <= cutoff
        ]
    for order_id in stale:
        open_online_payment(ctx, order_id)
    return len(stale)
