"""Alembic revisions of this service's database."""
