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
        "audit_checkpoint",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size"),
    )
    op.create_table(
        "audit_fulfilment",
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("publisher_org", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("paid_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("issued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_table(
        "audit_grant",
        sa.Column("grant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("buyer_org", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("publisher_org", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint("grant_id"),
    )
    op.create_table(
        "audit_kpi",
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("dimension", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("metric", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("period", "dimension", "value", "metric"),
    )
    op.create_table(
        "audit_ledger",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("occurred_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("buyer_org", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("publisher_org", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("grant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("audit_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_audit_ledger_buyer", ["buyer_org", "seq"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_ledger_event_type"), ["event_type"], unique=False
        )
        batch_op.create_index("ix_audit_ledger_grant", ["grant_id", "seq"], unique=False)
        batch_op.create_index("ix_audit_ledger_listing", ["listing_id", "seq"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_ledger_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index("ix_audit_ledger_publisher", ["publisher_org", "seq"], unique=False)

    op.create_table(
        "audit_ledger_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_listing",
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("publisher_org", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("theme", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("provinces", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("listing_id"),
    )
    op.create_table(
        "audit_watch_client",
        sa.Column("grant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hour", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("grant_id", "hour", "client"),
    )
    op.create_table(
        "audit_watch_count",
        sa.Column("grant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hour", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("grant_id", "hour", "kind"),
    )
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


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unpublished")

    op.drop_table("outbox")
    op.drop_table("inbox")
    op.drop_table("audit_watch_count")
    op.drop_table("audit_watch_client")
    op.drop_table("audit_listing")
    op.drop_table("audit_ledger_head")
    with op.batch_alter_table("audit_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_ledger_publisher")
        batch_op.drop_index(batch_op.f("ix_audit_ledger_occurred_at"))
        batch_op.drop_index("ix_audit_ledger_listing")
        batch_op.drop_index("ix_audit_ledger_grant")
        batch_op.drop_index(batch_op.f("ix_audit_ledger_event_type"))
        batch_op.drop_index("ix_audit_ledger_buyer")

    op.drop_table("audit_ledger")
    op.drop_table("audit_kpi")
    op.drop_table("audit_grant")
    op.drop_table("audit_fulfilment")
    op.drop_table("audit_checkpoint")
