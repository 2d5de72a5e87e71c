"""Schema changes to catalog tables that ``create_all`` does not make on existing databases.

``create_all`` creates missing tables but never alters one. Each step here adds what a newer
catalog needs to a table an older one created, with Alembic's operations (the right DDL for
SQLite and PostgreSQL), and is idempotent: it inspects the table first, so it runs at every
start, after ``create_all``, on fresh and old databases alike.
"""

from __future__ import annotations

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, Engine, String, Text, inspect

from services.catalog.adapters.orm import ALL_PURPOSES_JSON


def _listing_terms_columns() -> list[Column[str]]:
    # The server defaults are the domain's defaults: a listing stored before usage terms
    # existed reads from its document with exactly these, so no row needs a backfill.
    return [
        Column("allowed_purposes", Text(), nullable=False, server_default=ALL_PURPOSES_JSON),
        Column("approval", String(16), nullable=False, server_default="automatic"),
    ]


def upgrade(engine: Engine) -> list[str]:
    """Add the listing columns a table lacks; returns the names of those added."""
    added: list[str] = []
    with engine.begin() as connection:
        present = {column["name"] for column in inspect(connection).get_columns("listings")}
        operations = Operations(MigrationContext.configure(connection))
        for column in _listing_terms_columns():
            if column.name not in present:
                operations.add_column("listings", column)
                added.append(column.name)
    return added
