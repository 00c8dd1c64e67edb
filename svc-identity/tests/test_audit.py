"""Audit entries are written with each change and read by scope (`audit.read`)."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from wattlane.api.common.v1 import audit_pb2
from wattlane.api.identity.v1 import tenants_pb2
from wattlane.identity.testing import Client, TreeBuilder


async def test_changes_are_audited_and_read_by_scope(admin: Client, tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    other = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    await admin.tenants.UpdateTenant(
        tenants_pb2.UpdateTenantRequest(
            tenant=tenants_pb2.Tenant(name=customer.name, display_name=customer.display_name + " BV"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        ),
        metadata=(("x-request-id", "audit-test-1"),),
    )
    partner_admin = await tree.member(partner.name, [("partner-admin", partner.name)])
    entries = await partner_admin.client.audit.ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(parent=partner.name, filter=f'resource = "{customer.name}"')
    )
    methods = [(e.method, list(e.changed_fields)) for e in entries.audit_entries]
    assert methods[0][0] == "/wattlane.api.identity.v1.TenantService/CreateTenant"
    assert methods[1] == ("/wattlane.api.identity.v1.TenantService/UpdateTenant", ["display_name"])
    update = entries.audit_entries[1]
    assert update.request_id == "audit-test-1"
    assert update.actor.startswith("user:")
    # The partner admin cannot read the sibling partner's log (NOT_FOUND), and sees none of it.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await partner_admin.client.audit.ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(parent=other.name)
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    everything = await partner_admin.client.audit.ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(page_size=1000)
    )
    assert all(e.tenant_path.startswith(partner.path) for e in everything.audit_entries)
    # A cardholder sees the tenant but may not read its audit log.
    cardholder = await tree.member(customer.name, [("cardholder", customer.name)])
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await cardholder.client.audit.ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(parent=customer.name)
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
