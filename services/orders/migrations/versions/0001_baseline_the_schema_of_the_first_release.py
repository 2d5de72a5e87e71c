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
        "idempotency_keys",
        sa.Column("org", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("request_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("org", "key"),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("processed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    op.create_table(
        "invoices",
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("bank_reference", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("settled_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.PrimaryKeyConstraint("number"),
        sa.UniqueConstraint("order_id"),
    )
    op.create_table(
        "listing_owners",
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("org", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("listing_id"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("buyer_org", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("publisher_org", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("quote_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("payment_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("payment_ref", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("client_secret", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("placed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("payment_deadline", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("paid_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("grant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("refund_ref", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("refunded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("terms", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("quote_document", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("quote_id"),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_buyer_org"), ["buyer_org"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_payment_ref"), ["payment_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_placed_at"), ["placed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)

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
        "settlement_ledger",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("entry", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("part", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("party", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("publisher_org", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("booked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("settlement_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_settlement_ledger_month"), ["month"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_settlement_ledger_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_settlement_ledger_party"), ["party"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_settlement_ledger_publisher_org"), ["publisher_org"], unique=False
        )

    op.create_table(
        "stripe_events",
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )


def downgrade() -> None:
    op.drop_table("stripe_events")
    with op.batch_alter_table("settlement_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_ledger_publisher_org"))
        batch_op.drop_index(batch_op.f("ix_settlement_ledger_party"))
        batch_op.drop_index(batch_op.f("ix_settlement_ledger_order_id"))
        batch_op.drop_index(batch_op.f("ix_settlement_ledger_month"))

    op.drop_table("settlement_ledger")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unpublished")

    op.drop_table("outbox")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_status"))
        batch_op.drop_index(batch_op.f("ix_orders_placed_at"))
        batch_op.drop_index(batch_op.f("ix_orders_payment_ref"))
        batch_op.drop_index(batch_op.f("ix_orders_buyer_org"))

    op.drop_table("orders")
    op.drop_table("listing_owners")
    op.drop_table("invoices")
    op.drop_table("inbox")
    op.drop_table("idempotency_keys")
