"""RoleService: built-in roles, custom roles without escalation, bindings and their rules."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from wattlane.api.identity.v1 import auth_pb2, roles_pb2, tenants_pb2
from wattlane.core.errors import error_info, field_violations
from wattlane.identity.permissions import BUILTIN_ROLES, PERMISSIONS
from wattlane.identity.testing import Client, TreeBuilder, unique

R = roles_pb2.Role
B = roles_pb2.RoleBinding


async def _customer(tree: TreeBuilder) -> tenants_pb2.Tenant:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    return await tree.tenant(partner.name, "CUSTOMER")


async def test_permission_catalog_and_builtin_roles(admin: Client, tree: TreeBuilder) -> None:
    catalog = await admin.roles.ListPermissions(roles_pb2.ListPermissionsRequest())
    assert {p.name for p in catalog.permissions} == set(PERMISSIONS)
    customer = await _customer(tree)
    usable = await admin.roles.ListRoles(roles_pb2.ListRolesRequest(parent=customer.name, page_size=100))
    builtin = {r.name: r for r in usable.roles if r.builtin}
    assert set(builtin) == {f"roles/{r}" for r in BUILTIN_ROLES}
    assert set(builtin["roles/organization-admin"].permissions) >= {"users.manage", "licenses.purchase"}
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.roles.UpdateRole(
            roles_pb2.UpdateRoleRequest(
                role=R(name="roles/cardholder", display_name="x"),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            )
        )
    assert error_info(raised.value).reason == "BUILTIN_ROLE"  # type: ignore[union-attr]


async def test_custom_role_lifecycle_and_propagation(tree: TreeBuilder) -> None:
    customer = await _customer(tree)
    org = await tree.tenant(customer.name, "ORGANIZATION")
    sub = await tree.tenant(org.name, "ORGANIZATION")
    boss = await tree.member(customer.name, [("organization-admin", customer.name)])
    role = await boss.client.roles.CreateRole(
        roles_pb2.CreateRoleRequest(
            parent=customer.name,
            role=R(
                display_name="Installer", permissions=["stations.read", "stations.manage", "tenants.read"]
            ),
        )
    )
    assert role.tenant == customer.name and not role.builtin
    # Usable below where it was defined; visible there.
    usable = await boss.client.roles.ListRoles(roles_pb2.ListRolesRequest(parent=sub.name, page_size=100))
    assert role.name in {r.name for r in usable.roles}
    installer = await tree.member(org.name)
    binding = await boss.client.roles.CreateRoleBinding(
        roles_pb2.CreateRoleBindingRequest(
            role_binding=B(user=installer.user.name, role=role.name, tenant=org.name, propagate=True)
        )
    )
    scope = await installer.client.auth.GetEffectiveScope(auth_pb2.GetEffectiveScopeRequest())
    perms = {p.permission: p for p in scope.permissions}
    assert set(perms) == {"stations.read", "stations.manage", "tenants.read"}
    assert [(g.path, g.subtree) for g in perms["stations.manage"].grants] == [(org.path, True)]
    # The installer sees the sub-organization through propagation.
    got = await installer.client.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=sub.name))
    assert got.name == sub.name
    # Without propagation, only the node itself.
    await boss.client.roles.UpdateRoleBinding(
        roles_pb2.UpdateRoleBindingRequest(
            role_binding=B(name=binding.name, propagate=False),
            update_mask=field_mask_pb2.FieldMask(paths=["propagate"]),
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await installer.client.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=sub.name))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    # Changing the role's permissions changes the holder's scope.
    await boss.client.roles.UpdateRole(
        roles_pb2.UpdateRoleRequest(
            role=R(name=role.name, permissions=["tenants.read"]),
            update_mask=field_mask_pb2.FieldMask(paths=["permissions"]),
        )
    )
    scope = await installer.client.auth.GetEffectiveScope(auth_pb2.GetEffectiveScopeRequest())
    assert [p.permission for p in scope.permissions] == ["tenants.read"]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await boss.client.roles.DeleteRole(roles_pb2.DeleteRoleRequest(name=role.name))
    assert error_info(raised.value).reason == "ROLE_IN_USE"  # type: ignore[union-attr]
    await boss.client.roles.DeleteRoleBinding(roles_pb2.DeleteRoleBindingRequest(name=binding.name))
    await boss.client.roles.DeleteRole(roles_pb2.DeleteRoleRequest(name=role.name))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await boss.client.roles.GetRole(roles_pb2.GetRoleRequest(name=role.name))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_no_escalation(tree: TreeBuilder) -> None:
    customer = await _customer(tree)
    org = await tree.tenant(customer.name, "ORGANIZATION")
    boss = await tree.member(customer.name, [("organization-admin", customer.name)])
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # an org admin does not hold accounts.approve
        await boss.client.roles.CreateRole(
            roles_pb2.CreateRoleRequest(
                parent=customer.name, role=R(display_name=unique("r"), permissions=["accounts.approve"])
            )
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "accounts.approve" in (raised.value.details() or "")
    other = await tree.member(org.name)
    for role in ("customer-success", "operator-admin", "partner-admin"):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await boss.client.roles.CreateRoleBinding(
                roles_pb2.CreateRoleBindingRequest(
                    role_binding=B(
                        user=other.user.name, role=f"roles/{role}", tenant=org.name, propagate=True
                    )
                )
            )
        assert raised.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION)
    # A member restricted to one node cannot pass on a propagating grant of what they hold there.
    member = await tree.member(org.name, [("organization-admin", org.name)], propagate=False)
    third = await tree.member(org.name)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await member.client.roles.CreateRoleBinding(
            roles_pb2.CreateRoleBindingRequest(
                role_binding=B(
                    user=third.user.name, role="roles/organization-member", tenant=org.name, propagate=True
                )
            )
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_binding_rules(admin: Client, tree: TreeBuilder) -> None:
    customer = await _customer(tree)
    org = await tree.tenant(customer.name, "ORGANIZATION")
    sibling = await tree.tenant(customer.name, "ORGANIZATION")
    user = await tree.member(org.name)
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # not at a tenant outside the user's own
        await admin.roles.CreateRoleBinding(
            roles_pb2.CreateRoleBindingRequest(
                role_binding=B(user=user.user.name, role="roles/cardholder", tenant=sibling.name)
            )
        )
    assert error_info(raised.value).reason == "BINDING_OUTSIDE_USER_TENANT"  # type: ignore[union-attr]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.roles.CreateRoleBinding(
            roles_pb2.CreateRoleBindingRequest(
                role_binding=B(user=user.user.name, role="roles/customer-success", tenant=org.name)
            )
        )
    assert error_info(raised.value).reason == "ROLE_NOT_FOR_TENANT_KIND"  # type: ignore[union-attr]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.roles.CreateRoleBinding(
            roles_pb2.CreateRoleBindingRequest(
                role_binding=B(
                    user=user.user.name,
                    role="roles/organization-member",
                    tenant=org.name,
                    allowed_resources=["locations/L1", "stations/x"],
                )
            )
        )
    assert [v.field for v in field_violations(raised.value)] == ["role_binding.allowed_resources[1]"]
    restricted = await admin.roles.CreateRoleBinding(
        roles_pb2.CreateRoleBindingRequest(
            role_binding=B(
                user=user.user.name,
                role="roles/organization-member",
                tenant=org.name,
                allowed_resources=["locations/L1"],
            )
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.roles.CreateRoleBinding(
            roles_pb2.CreateRoleBindingRequest(
                role_binding=B(user=user.user.name, role="roles/organization-member", tenant=org.name)
            )
        )
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    scope = await user.client.auth.GetEffectiveScope(auth_pb2.GetEffectiveScopeRequest())
    grants = {p.permission: list(p.grants) for p in scope.permissions}
    assert [list(g.allowed_resources) for g in grants["stations.read"]] == [["locations/L1"]]
    assert restricted.allowed_resources == ["locations/L1"]
    for bad in ("users/x", "roles/x", "tenants/x"):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await admin.roles.CreateRoleBinding(
                roles_pb2.CreateRoleBindingRequest(
                    role_binding=B(user=bad, role="roles/cardholder", tenant=org.name)
                )
            )
        assert raised.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)


async def test_renaming_onto_another_roles_name_already_exists(admin: Client, tree: TreeBuilder) -> None:
    """As CreateRole says: ALREADY_EXISTS naming the field (the unique key, not an INTERNAL)."""
    customer = await _customer(tree)
    first, second = [
        await admin.roles.CreateRole(
            roles_pb2.CreateRoleRequest(
                parent=customer.name, role=R(display_name=name, permissions=["tenants.read"])
            )
        )
        for name in (unique("first"), unique("second"))
    ]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.roles.UpdateRole(
            roles_pb2.UpdateRoleRequest(
                role=R(name=second.name, display_name=first.display_name),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            )
        )
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "display_name" in (raised.value.details() or "")
