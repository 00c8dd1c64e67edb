"""firmware campaigns: each station's progress in a campaign

Revision ID: 5b1e0c9d2a47
Revises: c3e9a7d41f20
Create Date: 2026-12-07 20:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wattlane.core.orm

revision: str = "5b1e0c9d2a47"
down_revision: str | Sequence[str] | None = "c3e9a7d41f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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
