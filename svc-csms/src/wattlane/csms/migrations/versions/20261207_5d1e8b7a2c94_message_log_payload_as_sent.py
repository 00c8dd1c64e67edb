"""message log: the payload as json, not jsonb, on PostgreSQL (kept as the station sent it)

jsonb reorders keys (shortest first) and drops duplicates; json keeps the text it was given, so
the log shows a frame's payload in the sender's order. SQLite stores JSON as text already.

Revision ID: 5d1e8b7a2c94
Revises: c3e9a7d41f20
Create Date: 2026-12-07 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5d1e8b7a2c94"
down_revision: str | Sequence[str] | None = "c3e9a7d41f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Lines already written were reordered by jsonb; only new lines keep the sender's order.
        op.alter_column(
            "messages",
            "payload",
            type_=sa.JSON(),
            existing_type=postgresql.JSONB(),
            postgresql_using="payload::json",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "messages",
            "payload",
            type_=postgresql.JSONB(),
            existing_type=sa.JSON(),
            postgresql_using="payload::jsonb",
        )
