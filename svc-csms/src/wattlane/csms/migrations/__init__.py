"""Alembic revisions of the CSMS database (run on start; see schema.py)."""
