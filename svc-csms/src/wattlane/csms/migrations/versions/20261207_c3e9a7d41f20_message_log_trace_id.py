"""message log: the trace id of a CSMS→station call and its answer

Revision ID: c3e9a7d41f20
Revises: f34ba537dda4
Create Date: 2026-12-07 17:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3e9a7d41f20"
down_revision: str | Sequence[str] | None = "f34ba537dda4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites no rows (the log is large), old lines stay NULL.
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("trace_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("trace_id")
