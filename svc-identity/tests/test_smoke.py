"""First contact: the service starts, the admin signs in, the tree can be built and read."""

from __future__ import annotations

from wattlane.api.identity.v1 import tenants_pb2
from wattlane.identity.testing import Client, TreeBuilder


async def test_admin_builds_a_tree(admin: Client, tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    assert org.path == f"{customer.path}{org.name.split('/')[1]}/"
    got = await admin.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=org.name))
    assert got == org
