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
        "grant_terms",
        sa.Column("grant_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("policy_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("agreement_json", sa.Text(), nullable=True),
        sa.Column("agreement_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("terminated_by_org", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("terminated_by_role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("refund", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("grant_id"),
    )
    op.create_table(
        "listing_previews",
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("preview_json", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("listing_id", "version"),
    )
    op.create_table(
        "listing_terms",
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("org", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=True),
        sa.Column("allowed_purposes_json", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("approval", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("min_k", sa.Integer(), nullable=True),
        sa.Column("min_group_size", sa.Integer(), nullable=True),
        sa.Column("buyer_may_terminate", sa.Boolean(), nullable=False),
        sa.Column("snapshot_json", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("listing_id"),
    )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("traceparent", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_column("traceparent")

    op.drop_table("listing_terms")
    op.drop_table("listing_previews")
    op.drop_table("grant_terms")
