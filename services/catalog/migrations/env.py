"""Alembic environment of the catalog service's database (see services/common/migrations.py)."""

from alembic import context

from services.common.migrations import run_environment

run_environment(context)
