"""Agreements: usage terms, purposes, approvals, termination, previews

Revision ID: 0002
Revises: 0001
Created: 2026-11-26
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pricing_listing_terms",
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("allowed_purposes", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("snapshot_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("listing_id"),
    )
    op.create_table(
        "pricing_verified_organisations",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("registered_name", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("verified_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )


def downgrade() -> None:
    op.drop_table("pricing_verified_organisations")
    op.drop_table("pricing_listing_terms")
