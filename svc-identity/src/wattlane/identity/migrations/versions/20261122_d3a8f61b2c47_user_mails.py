"""user mails

Revision ID: d3a8f61b2c47
Revises: c7d2e9a41f10
Create Date: 2026-11-22 07:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wattlane.core.orm

revision: str = "d3a8f61b2c47"
down_revision: str | Sequence[str] | None = "c7d2e9a41f10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_mails",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("create_time", wattlane.core.orm.UTCDateTime(timezone=True), nullable=False),
        sa.Column("workflow_started", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_mails_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_mails")),
    )
    with op.batch_alter_table("user_mails", schema=None) as batch_op:
        batch_op.create_index(
            "ix_user_mails_user_id_kind_create_time", ["user_id", "kind", "create_time"], unique=False
        )
        batch_op.create_index("ix_user_mails_workflow_started", ["workflow_started"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_mails", schema=None) as batch_op:
        batch_op.drop_index("ix_user_mails_workflow_started")
        batch_op.drop_index("ix_user_mails_user_id_kind_create_time")
    op.drop_table("user_mails")
