"""Alembic revisions of the identity database (env and template live in wattlane.core)."""
