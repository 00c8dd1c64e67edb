"""Alembic revisions of the assets database (env and template live in wattlane.core)."""
