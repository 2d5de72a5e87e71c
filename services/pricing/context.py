"""What the pricing use cases share: the engine, the parsed-policy cache, the key, a clock."""

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
from services.pricing.policy_book import PolicyCache

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
    _sqlite_lock: threading.Lock = field(default_factory=threading.Lock)

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
