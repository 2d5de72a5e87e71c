"""Group commit: a batch with one order (or one change) that cannot be written still
writes the others, and the refused one leaves nothing behind; a caller that gave up
leaves the writer working."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from services.common.auth import Principal
from services.common.db import create_tables, make_engine, transaction
from services.common.observability import (
    CURRENT_TRACEPARENT,
    current_traceparent,
    new_traceparent,
)
from services.common.outbox import OutboxRow, outbox_row_values
from services.common.runtime import COMMON_TABLES
from services.common.signed_json import SignedJsonVerifier
from services.contracts.orders import OrderPaid
from services.orders.adapters.local_payments import LocalPayments
from services.orders.adapters.order_writer import NewOrder, OrderWriter
from services.orders.adapters.orm import (
    ORDERS_TABLES,
    IdempotencyRow,
    InvoiceRow,
    LedgerRow,
    OrderRow,
    idempotency_values,
)
from services.orders.domain.errors import InvalidTransition
from services.orders.domain.model import Order
from services.orders.domain.quote_terms import QuoteTerms
from services.orders.handlers import SOURCE, NotFound, OrdersContext, _placed_event, settlement
from services.pricing.domain.signing import QuoteSigner
from tests.unit.orders.quotes import quote_document

pytestmark = pytest.mark.integration
KEY = Ed25519PrivateKey.generate()
SIGNER = QuoteSigner(KEY)
OPERATOR = Principal(subject="ops:operator", org="ops", role="operator")


def _new_order(key: str) -> NewOrder:
    terms = QuoteTerms.model_validate(quote_document(SIGNER, buyer_org="b", listing_id="l"))
    now = datetime.now(UTC)
    order = Order.place(
        terms, publisher_org="p", provider="local", now=now, payment_window=timedelta(days=1)
    )
    return NewOrder(
        order=order,
        quote_document="{}",
        key_values=idempotency_values("b", key, "digest", order.id),
        outbox_values=outbox_row_values(_placed_event(order), source=SOURCE),
        invoice_at=now,
    )


def test_one_refused_order_does_not_sink_its_batch(module_database_url: str) -> None:
    engine = make_engine(module_database_url)
    create_tables(engine, [*COMMON_TABLES, *ORDERS_TABLES])
    lock = threading.Lock()
    writer = OrderWriter(engine, lock)
    jobs = [_new_order(f"key-{n}") for n in range(5)]
    jobs.append(_new_order("key-1"))  # a retried key: refused by the primary key
    try:
        with lock:  # hold the writer so that the orders queue up into one batch
            futures = [writer.submit(job) for job in jobs]
        written = [future.result(timeout=30) for future in futures[:5]]
        with pytest.raises(IntegrityError):
            futures[5].result(timeout=30)
    finally:
        writer.close()
    with transaction(engine) as session:
        order_ids = set(session.exec(select(OrderRow.id)).all())
        outbox = session.exec(select(OutboxRow.key)).all()
        invoices = session.exec(select(InvoiceRow.number)).all()
    assert order_ids == {job.order.id for job in jobs[:5]}
    assert sorted(outbox) == sorted(order_ids)
    assert len(set(invoices)) == len(invoices) == 5
    references = {order.payment_ref for order in written}
    assert len(references) == 5 and all(ref and ref.startswith("VNDX-") for ref in references)
    assert all(order.status == "awaiting_payment" for order in written)


def _context(database_url: str) -> OrdersContext:
    engine = make_engine(database_url)
    create_tables(engine, [*COMMON_TABLES, *ORDERS_TABLES])
    public = KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return OrdersContext(
        engine=engine,
        payments=LocalPayments(),
        quote_verifier=SignedJsonVerifier(public),
        payment_window=timedelta(days=1),
        lock=threading.Lock(),
    )


def test_a_refused_settlement_does_not_sink_its_batch(module_database_url: str) -> None:
    ctx = _context(module_database_url)
    try:
        first, second = (ctx.writer.write(_new_order(f"settle-{n}")) for n in range(2))
        with ctx.lock:  # the settlements and a new order queue up into one batch
            placed = ctx.writer.submit(_new_order("settle-2"))
            settled = [
                settlement(ctx, OPERATOR, first.id, "VCB 1"),
                settlement(ctx, OPERATOR, first.id, "VCB 2"),  # the same invoice again
                settlement(ctx, OPERATOR, "no-such-order", None),
                settlement(ctx, OPERATOR, second.id, None),
            ]
        assert placed.result(timeout=30).status == "awaiting_payment"
        assert [settled[n].result(timeout=30).status for n in (0, 3)] == ["paid", "paid"]
        with pytest.raises(InvalidTransition):
            settled[1].result(timeout=30)
        with pytest.raises(NotFound):
            settled[2].result(timeout=30)
    finally:
        ctx.writer.close()
    with transaction(ctx.engine) as session:
        statuses = dict(session.exec(select(OrderRow.id, OrderRow.status)).all())
        ledger = session.exec(select(LedgerRow.order_id)).all()
        paid = session.exec(
            select(OutboxRow.key).where(OutboxRow.event_type == OrderPaid.event_type)
        )
        invoice = session.exec(select(InvoiceRow).where(InvoiceRow.order_id == first.id)).one()
        paid_keys = sorted(paid.all())
    assert statuses[first.id] == statuses[second.id] == "paid"
    assert sorted(set(ledger)) == sorted([first.id, second.id])
    assert ledger.count(first.id) == ledger.count(second.id)  # booked once each
    assert paid_keys == sorted([first.id, second.id])
    assert (invoice.bank_reference, invoice.settled_by) == ("VCB 1", "ops:operator")


def test_a_caller_that_gave_up_leaves_the_writer_working(module_database_url: str) -> None:
    engine = make_engine(module_database_url)
    create_tables(engine, [*COMMON_TABLES, *ORDERS_TABLES])
    lock = threading.Lock()
    writer = OrderWriter(engine, lock)
    first = _new_order("gave-up-first")
    try:
        with lock:
            written = writer.submit(first)
            deadline = time.monotonic() + 5
            while not written.running() and time.monotonic() < deadline:
                time.sleep(0.01)  # the writer holds the first order, waiting for the lock
            # Requests past their deadline cancel their futures while the orders wait.
            waiting = [writer.submit(_new_order(f"gave-up-{n}")) for n in range(3)]
            assert all(future.cancel() for future in waiting)
        assert written.result(timeout=30).id == first.order.id
        later = writer.submit(_new_order("gave-up-later")).result(timeout=30)
        assert later.status == "awaiting_payment"  # the writer still writes
    finally:
        writer.close()
    with transaction(engine) as session:
        keys = set(session.exec(select(IdempotencyRow.key)).all())
    assert {key for key in keys if key.startswith("gave-up-")} == {"gave-up-first", "gave-up-later"}


def test_a_change_runs_in_its_callers_trace(module_database_url: str) -> None:
    """Events a change stages (order.paid on settlement) continue the request's trace."""
    engine = make_engine(module_database_url)
    create_tables(engine, [*COMMON_TABLES, *ORDERS_TABLES])
    writer = OrderWriter(engine, threading.Lock())
    placed = writer.write(_new_order("traced-change"))
    seen: list[str | None] = []

    def change(session: Session) -> Order:
        seen.append(current_traceparent())
        return placed

    caller = new_traceparent()
    try:
        token = CURRENT_TRACEPARENT.set(caller)
        try:
            writer.submit(change).result(timeout=30)
        finally:
            CURRENT_TRACEPARENT.reset(token)
        writer.submit(change).result(timeout=30)  # a caller outside any trace
    finally:
        writer.close()
    assert seen[0] == caller
    assert seen[1] != caller
