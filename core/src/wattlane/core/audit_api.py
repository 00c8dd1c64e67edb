"""The AuditService every service serves for its own audit log (wattlane.api.common.v1)."""

from __future__ import annotations

from typing import Protocol

import grpc

from wattlane.api.common.v1 import audit_pb2, audit_pb2_grpc
from wattlane.core.audit import AuditLog
from wattlane.core.db import Database
from wattlane.core.filtering import Field
from wattlane.core.listing import list_call
from wattlane.core.timestamps import to_timestamp


class TenantPathResolver(Protocol):
    """Turns `tenants/{id}` into a tenant path visible to the caller (NOT_FOUND otherwise); each
    service provides one (identity reads its tree, others the path copies on their rows)."""

    async def path_of(self, tenant_name: str) -> str: ...


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    """ListAuditEntries over one service's audit table, scoped by `audit.read`."""

    def __init__(self, db: Database, log: AuditLog, resolver: TenantPathResolver) -> None:
        self._db = db
        self._log = log
        self._resolver = resolver
        c = log.table.c
        self._fields = {
            "actor": Field(c.actor),
            "method": Field(c.method),
            "resource": Field(c.resource),
            "time": Field(c.time, "timestamp"),
        }

    async def ListAuditEntries(
        self, request: audit_pb2.ListAuditEntriesRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.ListAuditEntriesResponse:
        """Lists audit entries under `parent` (or everything in scope), oldest first."""
        call = await list_call(request, "ListAuditEntries", filter_fields=self._fields)
        scope, page = call.scope, call.page
        c = self._log.table.c
        extra = [call.where]
        if request.parent:
            path = await self._resolver.path_of(request.parent)
            scope.require("audit.read", path, request.parent)
            extra.append(c.tenant_path >= path)
            extra.append(c.tenant_path < path + "~")
        async with self._db.reader() as session:
            rows = await self._log.list(
                session,
                scope_filter=scope.filter("audit.read", c.tenant_path),
                extra=extra,
                after_id=str(page.after[0]) if page.after else None,
                limit=page.size + 1,
            )
        return audit_pb2.ListAuditEntriesResponse(
            audit_entries=[
                audit_pb2.AuditEntry(
                    name=f"auditEntries/{r.id}",
                    time=to_timestamp(r.time),
                    actor=r.actor,
                    on_behalf_of=r.on_behalf_of,
                    method=r.method,
                    resource=r.resource,
                    tenant_path=r.tenant_path,
                    changed_fields=list(r.changes.get("fields", [])),
                    request_id=r.request_id,
                    trace_id=r.trace_id,
                )
                for r in rows[: page.size]
            ],
            next_page_token=page.next_token(rows, lambda r: r.id),
        )
