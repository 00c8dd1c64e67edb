"""Audit log: who changed what, when, under which trace — written in the write's transaction.

Entries carry the tenant path of the changed resource so they can be read by scope
(`audit.read`), like any other tenant-owned row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Index, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.core.caller import current_principal
from wattlane.core.clock import utcnow
from wattlane.core.context import method_var, request_id_var
from wattlane.core.ids import new_id
from wattlane.core.logs import current_trace_id
from wattlane.core.orm import JsonType, PathString, UTCDateTime


def audit_table(metadata: MetaData) -> Table:
    """The audit table, defined on a service's metadata (one per service database)."""
    table = Table(
        "audit_log",
        metadata,
        Column("id", String(64), primary_key=True),
        Column("time", UTCDateTime(), nullable=False),
        Column("actor", String(160), nullable=False),  # user:<id> | service:<name> | anonymous
        Column("on_behalf_of", String(64), nullable=False, default=""),
        Column("method", String(160), nullable=False),
        Column("resource", String(255), nullable=False),
        Column("tenant_path", PathString, nullable=False),
        Column("changes", JsonType, nullable=False),
        Column("request_id", String(128), nullable=False, default=""),
        Column("trace_id", String(32), nullable=False, default=""),
    )
    Index("ix_audit_log_tenant_path_id", table.c.tenant_path, table.c.id)
    return table


@dataclass(frozen=True)
class AuditEntry:
    id: str
    time: dt.datetime
    actor: str
    on_behalf_of: str
    method: str
    resource: str
    tenant_path: str
    changes: Mapping[str, Any]
    request_id: str
    trace_id: str


class AuditLog:
    """Records and lists audit entries of one service database."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def record(
        self,
        session: AsyncSession,
        *,
        resource: str,
        tenant_path: str,
        changes: Mapping[str, Any] | Sequence[str] | None = None,
        action: str | None = None,
        actor: str | None = None,
    ) -> None:
        """Write one entry inside the caller's transaction. `changes` is a field list or a
        {field: new value} mapping (never secrets)."""
        principal = current_principal()
        if isinstance(changes, Mapping):
            payload: dict[str, Any] = {"fields": sorted(changes), "values": dict(changes)}
        else:
            payload = {"fields": sorted(changes or [])}
        await session.execute(
            insert(self.table).values(
                id=new_id(),
                time=utcnow(),
                actor=actor or (principal.caller_key if principal else "anonymous"),
                on_behalf_of=principal.on_behalf_of if principal else "",
                method=action or method_var.get() or "",
                resource=resource,
                tenant_path=tenant_path,
                changes=payload,
                request_id=request_id_var.get(),
                trace_id=current_trace_id(),
            )
        )

    async def list(
        self,
        session: AsyncSession,
        *,
        scope_filter: ColumnElement[bool],
        extra: Iterable[ColumnElement[bool]] = (),
        after_id: str | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """Entries inside a scope filter, newest id last (keyset by id)."""
        t = self.table
        query = select(t).where(scope_filter, *extra).order_by(t.c.id).limit(limit)
        if after_id:
            query = query.where(t.c.id > after_id)
        rows = (await session.execute(query)).mappings().all()
        return [AuditEntry(**dict(r)) for r in rows]
