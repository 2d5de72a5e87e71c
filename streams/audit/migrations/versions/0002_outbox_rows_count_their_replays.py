"""Outbox rows count their replays, so that a relay's late mark never undoes one

Revision ID: 0002
Revises: 0001
Created: 2026-11-27
"""

from services.common.migrations import add_outbox_replays, drop_outbox_replays

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_replays()


def downgrade() -> None:
    drop_outbox_replays()
