"""Every service's Alembic history builds exactly the schema its code declares.

On SQLite and PostgreSQL: an empty database upgraded to the newest revision has
no difference from the declared tables; a database made before migrations existed
(tables, no version table) is stamped at the baseline and upgraded, keeping its rows;
``vndx migrate`` reports the revision it reached.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from services.common.db import create_tables, make_engine
from services.common.migrations import current_revision, head_revision, version_table
from vndx.schema import TABLES, differences, migrate_database, migrations_dir, service_tables

SERVICES = sorted(TABLES)


@pytest.mark.parametrize("service", SERVICES)
def test_the_newest_revision_builds_the_declared_schema(service: str, database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate_database(engine, service)
        assert current_revision(engine, service) == head_revision(migrations_dir(service))
        assert differences(engine, service) == []
        migrate_database(engine, service)  # a second run changes nothing
        assert differences(engine, service) == []
    finally:
        engine.dispose()


def test_a_database_from_before_migrations_is_stamped_and_keeps_its_rows(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        create_tables(engine, service_tables("catalog"))
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO organisations (code, name, created_at) "
                    "VALUES ('gso', 'Tổng cục Thống kê', CURRENT_TIMESTAMP)"
                )
            )
        migrate_database(engine, "catalog")
        with engine.connect() as connection:
            names = connection.execute(text("SELECT name FROM organisations")).scalars().all()
            stamped = connection.execute(
                text(f"SELECT version_num FROM {version_table('catalog')}")
            ).scalar_one()
        assert names == ["Tổng cục Thống kê"]
        assert stamped == head_revision(migrations_dir("catalog"))
    finally:
        engine.dispose()


def test_vndx_migrate_names_the_revision_it_reached(database_url: str) -> None:
    env = {**os.environ, "VNDX_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "vndx.cli", "migrate", "--service", "orders"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"orders: schema at revision {head_revision(migrations_dir('orders'))}" in done.stderr
    unknown = subprocess.run(
        [sys.executable, "-m", "vndx.cli", "migrate", "--service", "billing"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown.returncode == 2
    assert "unknown service 'billing'" in unknown.stderr
