"""Kafka topic names: one per aggregate stream, keyed by aggregate id."""

from typing import Final

CATALOG_LISTINGS: Final = "catalog.listings"
CATALOG_ORGANISATIONS: Final = "catalog.organisations"
PRICING_POLICIES: Final = "pricing.policies"
PRICING_QUOTES: Final = "pricing.quotes"
ORDERS_ORDERS: Final = "orders.orders"
ACCESS_GRANTS: Final = "access.grants"
AUDIT_LEDGER: Final = "audit.ledger"

ALL_TOPICS: Final[tuple[str, ...]] = (
    CATALOG_LISTINGS,
    CATALOG_ORGANISATIONS,
    PRICING_POLICIES,
    PRICING_QUOTES,
    ORDERS_ORDERS,
    ACCESS_GRANTS,
    AUDIT_LEDGER,
)


def dead_letter_topic(topic: str) -> str:
    """Return the dead-letter topic that holds poison messages of ``topic``."""
    return f"{topic}.dlq"


def all_topics_with_dlq() -> list[str]:
    """Every topic the stack needs, with its dead-letter topic."""
    return [name for topic in ALL_TOPICS for name in (topic, dead_letter_topic(topic))]
