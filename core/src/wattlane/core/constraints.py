"""Database constraint violations as domain errors: a unique key a write collides with is
ALREADY_EXISTS naming the field, whichever service and whichever write path hit it (a pre-check
in the domain code gives the nicer message; this is the one answer when a write gets past it)."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError

from wattlane.core.errors import AlreadyExists

# SQLite: "UNIQUE constraint failed: roles.tenant_id, roles.display_name".
_SQLITE = re.compile(r"UNIQUE constraint failed: (?P<columns>[\w., ]+)")
# PostgreSQL: 'duplicate key value violates unique constraint "…"' + "DETAIL:  Key (a, b)=(…)".
_POSTGRES = re.compile(r"duplicate key value violates unique constraint \"(?P<constraint>[^\"]+)\"")
_POSTGRES_KEY = re.compile(r"Key \((?P<columns>[^)]*)\)=")
# Columns that scope a key (the owning tenant, a parent) rather than name what collided.
_SCOPING = re.compile(r"^(tenant_id|owner_id|parent_id|organization_id|.*_path)$")


def unique_violation(error: IntegrityError) -> AlreadyExists | None:
    """ALREADY_EXISTS for a unique-key collision (its metadata names the table and the fields);
    None for any other integrity error (a foreign key, a NOT NULL: a bug, not the caller's)."""
    text = str(error.orig)
    table, columns = "", []
    if match := _SQLITE.search(text):
        qualified = [c.strip() for c in match["columns"].split(",")]
        table = qualified[0].rpartition(".")[0]
        columns = [c.rpartition(".")[2] for c in qualified]
    elif match := _POSTGRES.search(text):
        # asyncpg keeps the table and the "Key (…)=(…)" detail on the driver's own exception.
        driver = getattr(error.orig, "__cause__", None)
        table = getattr(driver, "table_name", "") or ""
        key = _POSTGRES_KEY.search(getattr(driver, "detail", "") or text)
        columns = [c.strip() for c in key["columns"].split(",")] if key else [match["constraint"]]
    else:
        return None
    fields = [c for c in columns if not _SCOPING.match(c)] or columns
    noun = _singular(table) if table else "resource"
    described = ", ".join(fields)
    return AlreadyExists(
        f"another {noun} already has this {described}",
        metadata={"resource_type": table, "field": described},
    )


def _singular(table: str) -> str:
    word = table.replace("_", " ")
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word
