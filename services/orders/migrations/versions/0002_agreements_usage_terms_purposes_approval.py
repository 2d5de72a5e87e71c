"""Agreements: usage terms, purposes, approvals, termination, previews

``listing_owners`` (who publishes each listing) gives way to ``order_listings`` (each
listing's whole snapshot, which the usage policy is rebuilt from). A snapshot cannot be
made from the old rows: after upgrading, replay the catalog's outbox
(``vndx outbox replay --service catalog --since <first listing>``) so orders learns
every listing again; until then an order for an older listing is refused with 409.

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
        "order_listings",
        sa.Column("listing_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("org", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("snapshot", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("listing_id"),
    )
    op.drop_table("listing_owners")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("checkout_url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True)
        )
        batch_op.add_column(
            sa.Column("renews_grant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("refund_amount", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("policy_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "approval",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=False,
                server_default="automatic",
            )
        )
        batch_op.add_column(
            sa.Column("decide_by", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("decision_note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_orders_decide_by"), ["decide_by"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_decide_by"))
        batch_op.drop_column("decision_note")
        batch_op.drop_column("decided_by")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decide_by")
        batch_op.drop_column("approval")
        batch_op.drop_column("policy_sha256")
        batch_op.drop_column("refund_amount")
        batch_op.drop_column("renews_grant_id")
        batch_op.drop_column("checkout_url")

    op.create_table(
        "listing_owners",
        sa.Column("listing_id", sa.VARCHAR(length=64), nullable=False),
        sa.Column("org", sa.VARCHAR(length=64), nullable=False),
        sa.Column("updated_at", sa.DATETIME(), nullable=False),
        sa.PrimaryKeyConstraint("listing_id"),
    )
    op.drop_table("order_listings")
