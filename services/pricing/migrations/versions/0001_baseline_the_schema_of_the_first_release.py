"""Baseline: the schema of the first release

Revision ID: 0001
Revises: (none)
Created: 2026-11-26
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("consumer", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("processed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("envelope_json", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("published_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_unpublished", ["published_at", "seq"], unique=False)

    op.create_table(
        "pricing_listing_versions",
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("direct_identifier", sa.Integer(), nullable=False),
        sa.Column("quasi_identifier", sa.Integer(), nullable=False),
        sa.Column("sensitive", sa.Integer(), nullable=False),
        sa.Column("attribute", sa.Integer(), nullable=False),
        sa.Column("quality_score", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("listing_id", "version"),
    )
    op.create_table(
        "pricing_listings",
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("org", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("theme", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("provinces", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("update_frequency", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("list_price", sa.Integer(), nullable=True),
        sa.Column("products", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("snapshot_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("listing_id"),
    )
    op.create_table(
        "pricing_policies",
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    with op.batch_alter_table("pricing_policies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pricing_policies_effective_from"), ["effective_from"], unique=False
        )

    op.create_table(
        "pricing_quotes",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("buyer_org", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("listing_version", sa.Integer(), nullable=False),
        sa.Column("policy_version", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pricing_quotes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pricing_quotes_buyer_org"), ["buyer_org"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pricing_quotes_listing_id"), ["listing_id"], unique=False
        )

    op.create_table(
        "pricing_valuations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("policy_version", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("dataset_value", sa.Integer(), nullable=False),
        sa.Column("reference_product", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("reference_duration_days", sa.Integer(), nullable=False),
        sa.Column("reference_total", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("valued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("listing_id", "version", "policy_version", name="uq_pricing_valuation"),
    )
    with op.batch_alter_table("pricing_valuations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pricing_valuations_listing_id"), ["listing_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pricing_valuations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pricing_valuations_listing_id"))

    op.drop_table("pricing_valuations")
    with op.batch_alter_table("pricing_quotes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pricing_quotes_listing_id"))
        batch_op.drop_index(batch_op.f("ix_pricing_quotes_buyer_org"))

    op.drop_table("pricing_quotes")
    with op.batch_alter_table("pricing_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pricing_policies_effective_from"))

    op.drop_table("pricing_policies")
    op.drop_table("pricing_listings")
    op.drop_table("pricing_listing_versions")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unpublished")

    op.drop_table("outbox")
    op.drop_table("inbox")
