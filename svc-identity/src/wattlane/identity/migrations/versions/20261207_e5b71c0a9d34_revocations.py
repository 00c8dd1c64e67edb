"""revocations: the feed of revoked user tokens other services follow

Revision ID: e5b71c0a9d34
Revises: d3a8f61b2c47
Create Date: 2026-12-07 20:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wattlane.core.orm

revision: str = "e5b71c0a9d34"
down_revision: str | Sequence[str] | None = "d3a8f61b2c47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revocations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.String(length=64), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=True),
        sa.Column("revoke_time", wattlane.core.orm.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expire_time", wattlane.core.orm.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocations")),
    )
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revocations_expire_time"), ["expire_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_revocations_revoke_time"), ["revoke_time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revocations_revoke_time"))
        batch_op.drop_index(batch_op.f("ix_revocations_expire_time"))
    op.drop_table("revocations")
