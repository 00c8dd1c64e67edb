"""Paths of live tenants by id, cached for the hot list reads.

Safe to cache: a path never changes (moves are refused until the move workflow exists, which
must then call `forget`), and a tenant can only be deleted when nothing is left under it, so a
briefly stale entry for a just-deleted tenant (on another replica) lists nothing."""

from __future__ import annotations

import time

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.identity.models import Tenant

TENANTS: Table = Tenant.__table__  # type: ignore[assignment]
_LIVE_PATH = select(TENANTS.c.path).where(
    TENANTS.c.id == bindparam("tenant_id"), TENANTS.c.delete_time.is_(None)
)


class TenantPaths:
    def __init__(self, ttl: float = 60.0, max_entries: int = 100_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[float, str]] = {}

    async def get(self, session: AsyncSession, tenant_id: str) -> str | None:
        """The live tenant's path, or None when there is no such live tenant."""
        now = time.monotonic()
        entry = self._entries.get(tenant_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        path = await session.scalar(_LIVE_PATH, {"tenant_id": tenant_id})
        if path is not None:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[tenant_id] = (now + self._ttl, path)
        return path

    def forget(self, tenant_id: str) -> None:
        self._entries.pop(tenant_id, None)
