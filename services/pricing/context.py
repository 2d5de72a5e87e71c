"""What the pricing use cases share: the engine, the parsed-policy cache, the key, a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

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
