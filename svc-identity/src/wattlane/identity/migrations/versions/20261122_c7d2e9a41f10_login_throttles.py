"""login throttles

Revision ID: c7d2e9a41f10
Revises: b4cf033325ae
Create Date: 2026-11-22 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wattlane.core.orm

revision: str = "c7d2e9a41f10"
down_revision: str | Sequence[str] | None = "b4cf033325ae"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", wattlane.core.orm.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", wattlane.core.orm.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_login_throttles")),
    )


def downgrade() -> None:
    op.drop_table("login_throttles")
