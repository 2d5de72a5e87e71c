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

#: The domain's defaults, so listings stored before usage terms need no backfill (frozen
#: here: a revision never follows later changes of the code).
ALL_PURPOSES_JSON = (
    '["research", "statistics", "public_service", "product_development", '
    '"commercial_analytics", "journalism", "education"]'
)


def upgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "allowed_purposes",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default=ALL_PURPOSES_JSON,
            )
        )
        batch_op.add_column(
            sa.Column(
                "approval",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="automatic",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_column("approval")
        batch_op.drop_column("allowed_purposes")
