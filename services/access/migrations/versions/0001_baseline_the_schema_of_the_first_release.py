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
        "download_urls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grant_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("download_urls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_download_urls_grant_id"), ["grant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_download_urls_issued_at"), ["issued_at"], unique=False)

    op.create_table(
        "grants",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("listing_version", sa.Integer(), nullable=False),
        sa.Column("publisher_org", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("buyer_org", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("product", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("duration_days", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("privacy_json", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("objects_json", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("build_attempts", sa.Integer(), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
    )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grants_buyer_org"), ["buyer_org"], unique=False)
        batch_op.create_index(batch_op.f("ix_grants_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_grants_listing_id"), ["listing_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_grants_status"), ["status"], unique=False)

    op.create_table(
        "inbox",
        sa.Column("consumer", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("processed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    op.create_table(
        "listing_versions",
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("org", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("object_key", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("format", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("columns_json", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("listing_id", "version"),
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


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unpublished")

    op.drop_table("outbox")
    op.drop_table("listing_versions")
    op.drop_table("inbox")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grants_status"))
        batch_op.drop_index(batch_op.f("ix_grants_listing_id"))
        batch_op.drop_index(batch_op.f("ix_grants_expires_at"))
        batch_op.drop_index(batch_op.f("ix_grants_buyer_org"))

    op.drop_table("grants")
    with op.batch_alter_table("download_urls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_download_urls_issued_at"))
        batch_op.drop_index(batch_op.f("ix_download_urls_grant_id"))

    op.drop_table("download_urls")
