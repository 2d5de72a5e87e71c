"""What the pricing use cases share: the engine, the parsed-policy cache, the key, a clock,
the in-memory lookups and memo of the quote path, and the group-commit writer."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from services.common.db import is_sqlite, transaction
from services.pricing.adapters.keys import QuoteKey
from services.pricing.domain import QuoteIssuer
from services.pricing.lookups import Lookups
from services.pricing.policy_book import PolicyCache
from services.pricing.quote_writer import QuoteWriter

SOURCE = "/vndx/pricing"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PricingContext:
    """The composition root's wiring, handed to every use case."""

    engine: Engine
    quote_key: QuoteKey
    wake_relay: Callable[[], None] = lambda: None
    policies: PolicyCache = field(default_factory=PolicyCache)
    clock: Callable[[], datetime] = utc_now
    """The service's notion of now (tests move it to see a later policy take effect)."""
    lookups: Lookups = field(default_factory=Lookups)
    _sqlite_lock: threading.Lock = field(default_factory=threading.Lock)
    _issuer: QuoteIssuer | None = None
    _writer: QuoteWriter | None = None

    @property
    def issuer(self) -> QuoteIssuer:
        if self._issuer is None:
            self._issuer = QuoteIssuer(self.quote_key.signer)
        return self._issuer

    @property
    def writer(self) -> QuoteWriter:
        if self._writer is None:
            self._writer = QuoteWriter(self.engine, after_commit=lambda: self.wake_relay())
        return self._writer

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction; on SQLite, request threads queue on a lock for the database.

        SQLite lets one writer in (every transaction here begins IMMEDIATE) and makes the
        others sleep and retry with growing pauses; queueing in-process instead keeps
        the latency of concurrent quotes close to their work.
        """
        if is_sqlite(self.engine):
            with self._sqlite_lock, transaction(self.engine) as session:
                yield session
        else:
            with transaction(self.engine) as session:
                yield session
