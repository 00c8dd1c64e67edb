"""firmware campaigns: the campaigns and each station's progress in one

Revision ID: 5b1e0c9d2a47
Revises: 5d1e8b7a2c94
Create Date: 2026-12-07 20:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import wattlane.core.orm

revision: str = "5b1e0c9d2a47"
down_revision: str | Sequence[str] | None = "5d1e8b7a2c94"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "firmware_campaigns",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column(
            "owner_path",
            sa.String(length=512).with_variant(sa.String(length=512, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("spec", sa.LargeBinary(), nullable=False),
        sa.Column("target_version", sa.String(length=50), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("current_wave", sa.Integer(), server_default="0", nullable=False),
        sa.Column("target_count", sa.Integer(), nullable=False),
        sa.Column(
            "decisions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("creator", sa.String(length=160), nullable=False),
        sa.Column("create_time", wattlane.core.orm.UTCDateTime(timezone=True), nullable=False),
        sa.Column("update_time", wattlane.core.orm.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_campaigns")),
    )
    op.create_index("ix_firmware_campaigns_owner_path_id", "firmware_campaigns", ["owner_path", "id"])
    op.create_table(
        "campaign_stations",
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("identity", sa.String(length=48), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failure_type", sa.String(length=32), server_default="", nullable=False),
        sa.Column("ocpp_status", sa.String(length=32), server_default="", nullable=False),
        sa.Column("target_version", sa.String(length=50), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=True),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("dispatches", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sent_time", wattlane.core.orm.UTCDateTime(timezone=True), nullable=True),
        sa.Column("update_time", wattlane.core.orm.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "identity", name=op.f("pk_campaign_stations")),
    )
    op.create_index("ix_campaign_stations_identity_state", "campaign_stations", ["identity", "state"])


def downgrade() -> None:
    op.drop_index("ix_campaign_stations_identity_state", table_name="campaign_stations")
    op.drop_table("campaign_stations")
    op.drop_index("ix_firmware_campaigns_owner_path_id", table_name="firmware_campaigns")
    op.drop_table("firmware_campaigns")
