"""Every service's tables load in one process: tools and tests import them side by side.

SQLModel keeps all tables in one metadata, so two services declaring the same table name
break any process that imports both (the ``vndx`` CLI, the test suite).
"""

from __future__ import annotations

import importlib

from sqlalchemy import Table

MODULES = {
    "catalog": ("services.catalog.adapters.orm", "CATALOG_TABLES"),
    "pricing": ("services.pricing.adapters.orm", "PRICING_TABLES"),
    "orders": ("services.orders.adapters.orm", "ORDERS_TABLES"),
    "access": ("services.access.adapters.orm", "ACCESS_TABLES"),
    "audit": ("streams.audit.tables", "AUDIT_TABLES"),
}


def test_no_two_services_declare_the_same_table() -> None:
    owners: dict[str, list[str]] = {}
    for service, (module, attribute) in MODULES.items():
        tables: list[Table] = getattr(importlib.import_module(module), attribute)
        for table in tables:
            owners.setdefault(table.name, []).append(service)
    shared = {name: services for name, services in owners.items() if len(services) > 1}
    assert shared == {}
    assert "order_listings" in owners and owners["listings"] == ["catalog"]
