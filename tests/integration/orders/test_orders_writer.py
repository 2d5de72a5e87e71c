"""Group commit: a batch with one order that cannot be written still writes the others,
and the refused one leaves nothing behind."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.common.db import create_tables, make_engine, transaction
from services.common.outbox import OutboxRow
from services.common.runtime import COMMON_TABLES
from services.orders.adapters.order_writer import NewOrder, OrderWriter
from services.orders.adapters.orm import (
    ORDERS_TABLES,
    InvoiceRow,
    OrderRow,
    idempotency_values,
    outbox_values,
)
from services.orders.domain.model import Order
from services.orders.domain.quote_terms import QuoteTerms
from services.orders.handlers import SOURCE, _placed_event
from services.pricing.domain.signing import QuoteSigner
from tests.unit.orders.quotes import quote_document

pytestmark = pytest.mark.integration
SIGNER = QuoteSigner(Ed25519PrivateKey.generate())


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
        outbox_values=outbox_values(_placed_event(order), source=SOURCE),
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
