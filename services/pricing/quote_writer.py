"""Group commit of issued quotes: concurrent requests share one transaction.

Every quote is stored with its `QuoteIssued` outbox row, and a request answers only once
both are committed. Committing each quote alone makes the database's commit the
bottleneck (one writer at a time); instead, requests queue their rows, and one writer
task commits everything queued in one transaction and then answers every request of the
batch. While one batch commits, the next one gathers, so the batch size follows the load.
If a batch fails, each of its quotes is retried alone, so one bad row fails only its own
request; nothing is ever half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert

from services.common.db import transaction
from services.common.outbox import insert_outbox_rows
from services.pricing.adapters.orm import QuoteRow

log = logging.getLogger(__name__)

MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class QuoteRows:
    """The quote row and its outbox row, as column values."""

    quote: dict[str, Any]
    outbox: dict[str, Any]


def commit_rows(engine: Engine, batch: Sequence[QuoteRows]) -> None:
    """Insert the quotes and their outbox rows of `batch` in one transaction."""
    with transaction(engine) as session:
        session.execute(insert(QuoteRow), [rows.quote for rows in batch])
        insert_outbox_rows(session.connection(), [rows.outbox for rows in batch])


class QuoteWriter:
    """Queues quote rows from request handlers and commits them in batches."""

    def __init__(
        self,
        engine: Engine,
        after_commit: Callable[[], None] = lambda: None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._engine = engine
        self._after_commit = after_commit
        self._max_batch = max_batch
        self._queue: list[tuple[QuoteRows, asyncio.Future[None]]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def write_now(self, rows: QuoteRows) -> None:
        """Commit one quote at once (callers outside the event loop: tools, benchmarks)."""
        commit_rows(self._engine, [rows])
        self._after_commit()

    async def write(self, rows: QuoteRows) -> None:
        """Queue one quote and return once the batch holding it has committed."""
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="pricing-quote-writer")
        assert self._wake is not None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((rows, future))
        self._wake.set()
        await future

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for _, future in self._queue:
            if not future.done():
                future.set_exception(RuntimeError("the pricing service is stopping"))
        self._queue.clear()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[QuoteRows, asyncio.Future[None]]]) -> None:
        try:
            await asyncio.to_thread(commit_rows, self._engine, [rows for rows, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                if not future.done():
                    future.set_exception(RuntimeError("the pricing service is stopping"))
            raise
        except Exception:
            log.exception("a batch of %d quotes failed; committing them one by one", len(batch))
            for rows, future in batch:
                try:
                    await asyncio.to_thread(commit_rows, self._engine, [rows])
                except Exception as error:  # this quote alone fails
                    if not future.done():
                        future.set_exception(error)
                else:
                    if not future.done():
                        future.set_result(None)
        else:
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
        self._after_commit()
