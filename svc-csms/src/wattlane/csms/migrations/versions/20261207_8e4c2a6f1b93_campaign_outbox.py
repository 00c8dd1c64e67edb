"""campaign outbox: campaigns waiting for their FirmwareCampaign workflow

Revision ID: 8e4c2a6f1b93
Revises: 5b1e0c9d2a47
Create Date: 2026-12-07 21:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wattlane.core.orm

revision: str = "8e4c2a6f1b93"
down_revision: str | Sequence[str] | None = "5b1e0c9d2a47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign_outbox",
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("input", sa.LargeBinary(), nullable=False),
        sa.Column("create_time", wattlane.core.orm.UTCDateTime(timezone=True), nullable=False),
        sa.Column("relay_time", wattlane.core.orm.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["firmware_campaigns.id"],
            name=op.f("fk_campaign_outbox_campaign_id_firmware_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_outbox")),
    )
    with op.batch_alter_table("campaign_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaign_outbox_relay_time_campaign_id", ["relay_time", "campaign_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("campaign_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_outbox_relay_time_campaign_id")
    op.drop_table("campaign_outbox")
