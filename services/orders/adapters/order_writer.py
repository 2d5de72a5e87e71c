"""Group commit for orders: one transaction writes every order waiting to be written.

Placing an order is a handful of INSERTs. Run one transaction per order from many
threads and each statement hands the GIL back and forth with the event loop, which
dominates the cost; one writer thread that drains the queue and writes the whole batch
with multi-row INSERTs pays that once per batch. Changes to stored orders (an operator
settling an invoice) ride in the same transactions, after the batch's new orders.

A batch that hits a constraint (a retried Idempotency-Key, a second order for a quote)
or a refused change is rolled back and its jobs are written one by one, so each caller
gets its own answer and nothing is half-written.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from services.common.db import transaction
from services.common.outbox import insert_outbox_rows
from services.orders.adapters.orm import (
    IdempotencyRow,
    InvoiceRow,
    OrderRow,
    new_order_values,
)
from services.orders.domain.model import Order
from services.orders.domain.settlement import invoice_reference

_ORDERS = OrderRow.__table__  # type: ignore[attr-defined]
_KEYS = IdempotencyRow.__table__  # type: ignore[attr-defined]
_INVOICES = InvoiceRow.__table__  # type: ignore[attr-defined]
MAX_BATCH = 128


@dataclass
class NewOrder:
    """Everything one new order writes, prepared before it reaches the writer."""

    order: Order
    quote_document: str
    key_values: dict[str, Any]
    outbox_values: dict[str, Any]
    invoice_at: datetime | None
    """Set when the order gets a local invoice, numbered in the writing transaction."""


Change = Callable[[Session], Order]
"""A change to stored orders, applied in the writer's transaction; it raises to refuse."""


@dataclass
class _Job:
    work: NewOrder | Change
    done: Future[Order]
    context: contextvars.Context
    """The caller's context: a change's events carry the caller's trace, not the writer's."""


class OrderWriter:
    """One thread that writes queued new orders and changes, many per transaction."""

    def __init__(self, engine: Engine, lock: contextlib.AbstractContextManager[Any]) -> None:
        self._engine = engine
        self._lock = lock
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def write(self, new: NewOrder) -> Order:
        """Write one new order (blocking); its invoice-numbered state once committed."""
        return self.submit(new).result()

    def submit(self, work: NewOrder | Change) -> Future[Order]:
        """Queue a new order or a change; the future has the order once committed."""
        self._ensure_started()
        job = _Job(work, Future(), contextvars.copy_context())
        self._queue.put(job)
        return job.done

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _ensure_started(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="orders-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._queue.put(None)
                    break
                batch.append(job)
            # A caller that gave up (a request past its deadline) cancelled its future:
            # that job is dropped; the others can no longer be cancelled once written.
            batch = [job for job in batch if job.done.set_running_or_notify_cancel()]
            if batch:
                self._write(batch)

    def _write(self, batch: list[_Job]) -> None:
        try:
            written = self._transaction(batch)
        except Exception as error:
            if len(batch) == 1:
                batch[0].done.set_exception(error)
                return
            for job in batch:  # find which order cannot be written; the others can
                self._write([job])
            return
        for job, order in zip(batch, written, strict=True):
            job.done.set_result(order)

    def _transaction(self, batch: list[_Job]) -> list[Order]:
        new = [
            (job.work, dataclasses.replace(job.work.order))
            for job in batch
            if isinstance(job.work, NewOrder)
        ]
        with self._lock, transaction(self._engine) as session:
            if new:
                self._insert(session, new)
            placed = iter(order for _, order in new)
            return [
                next(placed)
                if isinstance(job.work, NewOrder)
                else job.context.run(job.work, session)
                for job in batch
            ]

    @staticmethod
    def _insert(session: Session, new: list[tuple[NewOrder, Order]]) -> None:
        """Every row of the batch's new orders, in multi-row INSERTs."""
        connection = session.connection()
        invoiced = [(order, item.invoice_at) for item, order in new if item.invoice_at is not None]
        if invoiced:
            numbers = connection.execute(
                _INVOICES.insert().returning(_INVOICES.c.number, sort_by_parameter_order=True),
                [{"order_id": order.id, "created_at": at} for order, at in invoiced],
            ).all()
            for (order, at), (number,) in zip(invoiced, numbers, strict=True):
                assert at is not None
                order.await_payment(invoice_reference(at.year, int(number)))
        insert_outbox_rows(connection, [item.outbox_values for item, _ in new])
        connection.execute(_KEYS.insert(), [item.key_values for item, _ in new])
        connection.execute(
            _ORDERS.insert(),
            [new_order_values(order, item.quote_document) for item, order in new],
        )
