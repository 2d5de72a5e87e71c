"""Where each service declares its tables and keeps its migrations, and new revisions.

``new_revision`` is the developer's tool behind ``vndx migration new``: it upgrades a
scratch SQLite database to the service's newest revision, compares it with the
tables the code declares (Alembic autogenerate) and writes the difference as the
next numbered revision, to be read and committed like any code.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import produce_migrations, render_python_code
from sqlalchemy import Engine, Table

from services.common.db import make_engine
from services.common.migrations import comparing_context, head_revision, metadata_of, upgrade
from services.common.migrations import differences as differences_of
from services.common.runtime import COMMON_TABLES

#: Where each service declares its tables.
TABLES: dict[str, str] = {
    "catalog": "services.catalog.adapters.orm:CATALOG_TABLES",
    "pricing": "services.pricing.adapters.orm:PRICING_TABLES",
    "orders": "services.orders.adapters.orm:ORDERS_TABLES",
    "access": "services.access.adapters.orm:ACCESS_TABLES",
    "audit": "streams.audit.tables:AUDIT_TABLES",
}

REVISION_TEMPLATE = '''"""{message}

Revision ID: {revision}
Revises: {down_revision}
Created: {created}
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "{revision}"
down_revision = {down_revision_literal}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


class UnknownService(ValueError):
    pass


def service_tables(service: str) -> list[Table]:
    """Every table of ``service``'s database, the outbox and inbox included."""
    target = TABLES.get(service)
    if target is None:
        raise UnknownService(f"unknown service {service!r}; one of {', '.join(TABLES)}")
    module_name, _, attribute = target.partition(":")
    tables: list[Table] = list(getattr(importlib.import_module(module_name), attribute))
    return [*COMMON_TABLES, *tables]


def migrations_dir(service: str) -> Path:
    """``<package>/migrations`` of the package that declares the service's tables."""
    target = TABLES.get(service)
    if target is None:
        raise UnknownService(f"unknown service {service!r}; one of {', '.join(TABLES)}")
    package = importlib.import_module(".".join(target.split(":")[0].split(".")[:2]))
    assert package.__file__ is not None
    return Path(package.__file__).parent / "migrations"


def migrate_database(engine: Engine, service: str) -> None:
    """Bring ``engine``'s database to ``service``'s newest revision."""
    upgrade(engine, migrations_dir(service), service, service_tables(service))


def differences(engine: Engine, service: str) -> list[object]:
    """What the declared tables have that ``engine``'s database lacks (empty: in step).

    What the database has beyond them (the catalog's full-text search tables, made at
    start) is not a difference.
    """
    with engine.connect() as connection:
        return differences_of(connection, service, service_tables(service), count_undeclared=False)


def new_revision(service: str, message: str) -> Path | None:
    """Write the next revision for what changed in ``service``'s tables; None if nothing."""
    script_dir = migrations_dir(service)
    previous = head_revision(script_dir)
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{scratch}/schema.db")
        try:
            if previous is not None:
                upgrade(engine, script_dir, service)
            with engine.connect() as connection:
                ops = produce_migrations(
                    comparing_context(connection, service),
                    metadata_of(service_tables(service)),
                )
        finally:
            engine.dispose()
    if ops.upgrade_ops is None or ops.upgrade_ops.is_empty():
        return None
    number = f"{int(previous) + 1:04d}" if previous else "0001"
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "change"
    path = script_dir / "versions" / f"{number}_{slug}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert ops.downgrade_ops is not None
    path.write_text(
        REVISION_TEMPLATE.format(
            message=message,
            revision=number,
            down_revision=previous or "(none)",
            down_revision_literal=repr(previous),
            created=datetime.now(UTC).date().isoformat(),
            upgrade=_render(ops.upgrade_ops),
            downgrade=_render(ops.downgrade_ops),
        ),
        encoding="utf-8",
    )
    _format(path)
    return path


def _format(path: Path) -> None:
    """Format the new revision like the rest of the code, when ruff is at hand (dev)."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if Path(ruff).exists():
        subprocess.run([ruff, "format", "--quiet", str(path)], check=False)


def _render(ops: object) -> str:
    code = render_python_code(
        ops,  # type: ignore[arg-type]
        sqlalchemy_module_prefix="sa.",
        alembic_module_prefix="op.",
        render_as_batch=True,
    )
    # Alembic's text starts unindented and carries its own banner comments.
    lines = [line for line in ("    " + code).splitlines() if not line.strip().startswith("# ###")]
    body = "\n".join(lines).rstrip()
    return body if body.strip() else "    pass"
