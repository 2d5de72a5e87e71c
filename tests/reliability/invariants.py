"""What must hold after any crash or outage, read straight from the services' stores.

Each paid order has exactly one grant, one fulfilment and one audit record per
grant event; extract objects exist only for issued grants and every issued
grant has its objects. ``problems`` lists what does not hold (empty when all do).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from services.common.objectstore import ObjectStore
from vndx.stack import EmbeddedStack

GRANT_ISSUED = "vn.vndx.access.grant.issued.v1"
ORDER_PAID = "vn.vndx.orders.order.paid.v1"
ORDER_FULFILLED = "vn.vndx.orders.order.fulfilled.v1"


def rows(db: Path | str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` read from a SQLite file, or from a PostgreSQL URL."""
    if str(db).startswith("postgresql"):
        engine = create_engine(str(db), poolclass=NullPool)
        try:
            with engine.connect() as session:
                return [tuple(row) for row in session.execute(text(sql))]
        finally:
            engine.dispose()
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return list(connection.execute(sql).fetchall())
    finally:
        connection.close()


def database(stack: EmbeddedStack, service: str) -> Path | str:
    """Where a service of ``stack`` keeps its rows (its SQLite file unless told otherwise)."""
    where = getattr(stack, "database", None)
    return str(where(service)) if where is not None else stack.data_dir / f"{service}.db"


@dataclass
class Snapshot:
    """Counts worth comparing before and after a replay."""

    orders: dict[str, int] = field(default_factory=dict)
    grants: dict[str, int] = field(default_factory=dict)
    ledger_size: int = 0
    problems: list[str] = field(default_factory=list)


def table_fingerprint(db: Path, tables: list[str]) -> dict[str, int]:
    """Row counts of each table (the inbox and outbox excluded by the caller)."""
    return {t: int(rows(db, f"SELECT count(*) FROM {t}")[0][0]) for t in tables}


def check_purchases(stack: EmbeddedStack, order_ids: set[str]) -> Snapshot:
    snap = Snapshot()
    problems = snap.problems
    orders = {
        str(oid): (str(status), gid)
        for oid, status, gid in rows(
            database(stack, "orders"), "SELECT id, status, grant_id FROM orders"
        )
    }
    snap.orders = dict(Counter(status for status, _ in orders.values()))
    grants = rows(
        database(stack, "access"), "SELECT id, order_id, status, objects_json FROM grants"
    )
    snap.grants = dict(Counter(str(g[2]) for g in grants))
    grants_by_order = Counter(str(g[1]) for g in grants)
    issued = {str(g[0]): json.loads(str(g[3])) for g in grants if g[2] == "issued"}
    grant_of_order = {str(g[1]): str(g[0]) for g in grants}
    for order_id in sorted(order_ids):
        status, grant_id = orders.get(order_id, ("missing", None))
        if status != "fulfilled":
            problems.append(f"order {order_id} is {status}, not fulfilled")
        if grants_by_order[order_id] != 1:
            problems.append(f"order {order_id} has {grants_by_order[order_id]} grants")
        elif grant_id != grant_of_order[order_id]:
            problems.append(f"order {order_id} names grant {grant_id}, access has another")
    problems += _event_counts(database(stack, "orders"), {ORDER_PAID, ORDER_FULFILLED})
    problems += _event_counts(database(stack, "access"), {GRANT_ISSUED})
    problems += _audit_matches(stack)
    problems += _objects_match(stack, issued)
    snap.ledger_size = int(
        rows(database(stack, "audit"), "SELECT count(*) FROM audit_ledger")[0][0]
    )
    return snap


def _event_counts(db: Path | str, types: set[str]) -> list[str]:
    """Each aggregate has at most one event of each of ``types`` in its outbox."""
    found = rows(db, "SELECT key, event_type, count(*) FROM outbox GROUP BY key, event_type")
    name = Path(db).stem if isinstance(db, Path) else str(db).rsplit("/", 1)[-1]
    return [
        f"{name}: {key} has {count} {event_type} events"
        for key, event_type, count in found
        if event_type in types and int(str(count)) != 1
    ]


def _audit_matches(stack: EmbeddedStack) -> list[str]:
    """Every grant and order event is in the ledger exactly once, and nothing else of them."""
    problems: list[str] = []
    ledger = Counter(
        str(r[0])
        for r in rows(
            database(stack, "audit"),
            "SELECT event_id FROM audit_ledger WHERE event_type LIKE 'vn.vndx.access.grant.%'"
            " OR event_type LIKE 'vn.vndx.orders.order.paid%'",
        )
    )
    published = {
        str(r[0])
        for service, pattern in (("access", "vn.vndx.access.grant.%"), ("orders", ORDER_PAID))
        for r in rows(
            database(stack, service),
            f"SELECT event_id FROM outbox WHERE event_type LIKE '{pattern}'",
        )
    }
    missing = published - set(ledger)
    if missing:
        problems.append(f"{len(missing)} events missing from the ledger, e.g. {min(missing)}")
    unknown = set(ledger) - published
    if unknown:
        problems.append(f"{len(unknown)} ledger records of events never published")
    doubled = [event for event, count in ledger.items() if count > 1]
    if doubled:
        problems.append(f"{len(doubled)} events recorded twice in the ledger")
    per_grant = rows(
        database(stack, "audit"),
        f"SELECT grant_id, count(*) FROM audit_ledger WHERE event_type = '{GRANT_ISSUED}'"
        " GROUP BY grant_id HAVING count(*) > 1",
    )
    problems += [f"grant {g} issued {n} times in the ledger" for g, n in per_grant]
    return problems


def _objects_match(stack: EmbeddedStack, issued: dict[str, list[str]]) -> list[str]:
    """No extract without an issued grant; no issued grant without its extract."""
    store = ObjectStore.from_settings(stack.settings())
    keys = set(store.list_keys("sandbox/"))
    problems: list[str] = []
    orphans = {key.split("/")[1] for key in keys} - set(issued)
    if orphans:
        problems.append(f"{len(orphans)} extracts without an issued grant, e.g. {min(orphans)}")
    lacking = [gid for gid, objects in issued.items() if not objects or set(objects) - keys]
    if lacking:
        problems.append(f"{len(lacking)} issued grants without their extract, e.g. {lacking[0]}")
    return problems


def unsettled(stack: EmbeddedStack) -> int:
    """Orders on their way to a grant (the load generators keep this bounded).

    An order that ended otherwise (refunded after a failed grant, say) is not counted
    here: ``check_purchases`` reports it.
    """
    found = rows(
        database(stack, "orders"),
        "SELECT count(*) FROM orders WHERE status IN"
        " ('placed', 'awaiting_payment', 'awaiting_approval', 'paid', 'refund_pending')",
    )
    return int(found[0][0])
