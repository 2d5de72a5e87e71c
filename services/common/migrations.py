"""Alembic schema migrations: each service's database brought to its newest revision.

Every service keeps its own revisions in ``<package>/migrations/versions/`` and its
own version table (``vndx_schema_<service>``), so services never share migration
history even when they share a database server. A service process upgrades its
database when it starts (embedded stack); in production the one-shot init runs
``vndx migrate --service NAME`` before any service starts. A database created before
migrations existed (tables present, no version table) is stamped at the baseline
revision first, then upgraded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, Table, inspect

#: The revision every service's history starts from.
BASELINE = "0001"


def version_table(service: str) -> str:
    return f"vndx_schema_{service}"


def _config(script_location: Path, service: str, connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = version_table(service)
    return config


def run_environment(context: Any) -> None:
    """The body of every service's ``env.py`` (``context`` is alembic.context): migrate."""
    attributes = context.config.attributes
    context.configure(
        connection=attributes["connection"],
        version_table=attributes["version_table"],
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def upgrade(
    engine: Engine,
    script_location: Path,
    service: str,
    tables: Sequence[Table] = (),
    revision: str = "head",
) -> None:
    """Bring ``engine``'s database to ``revision`` (the newest) of ``service``.

    A database without a version table but with tables is stamped first: at the newest
    revision if it already has exactly the declared ``tables`` (made by ``create_all``,
    as some tools and tests do), else at the baseline (a database of the first release).
    """
    with engine.begin() as connection:
        config = _config(script_location, service, connection)
        existing = set(inspect(connection).get_table_names())
        if version_table(service) not in existing and _has_service_tables(
            existing, script_location
        ):
            in_step = bool(tables) and not differences(connection, service, tables)
            command.stamp(config, "head" if in_step else BASELINE)
        command.upgrade(config, revision)


def differences(
    connection: Connection,
    service: str,
    tables: Sequence[Table],
    *,
    count_undeclared: bool = True,
) -> list[Any]:
    """Where ``connection``'s database and the declared ``tables`` disagree (empty: in step).

    ``count_undeclared=False``: what the database has beyond the tables (the catalog's
    full-text search tables, made at start) is not a difference.
    """
    options = {} if count_undeclared else {"include_object": _declared}
    return list(
        compare_metadata(comparing_context(connection, service, **options), metadata_of(tables))
    )


def metadata_of(tables: Sequence[Table]) -> MetaData:
    """A fresh ``MetaData`` holding copies of ``tables``."""
    collected = MetaData()
    for table in tables:
        table.to_metadata(collected)
    return collected


def comparing_context(connection: Any, service: str, **options: Any) -> MigrationContext:
    """The Alembic context autogenerate compares ``service``'s database in."""
    return MigrationContext.configure(
        connection,
        opts={
            "version_table": version_table(service),
            "render_as_batch": True,  # as run_environment migrates
            "compare_type": True,
            **options,
        },
    )


def _declared(
    _object: object, _name: str | None, _type: str, reflected: bool, compare_to: object
) -> bool:
    return not (reflected and compare_to is None)


def current_revision(engine: Engine, service: str) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": version_table(service)}
        )
        return context.get_current_revision()


def head_revision(script_location: Path) -> str | None:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return ScriptDirectory.from_config(config).get_current_head()


def _has_service_tables(existing: set[str], script_location: Path) -> bool:
    # The outbox and inbox alone do not make a legacy database: every service has them.
    return bool(existing - {"outbox", "inbox"}) and (script_location / "versions").is_dir()


def add_outbox_replays() -> None:
    """Revision step shared by every service: the outbox counts replays (see outbox.py)."""
    from alembic import op

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replays", sa.Integer(), nullable=False, server_default="0"))


def drop_outbox_replays() -> None:
    from alembic import op

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("replays")
