"""Alembic revisions of the billing database (env and template live in wattlane.core)."""
