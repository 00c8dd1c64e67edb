"""ResolveOwner: the tenant (and path) owning a tenant or user, for services keeping path copies."""

from __future__ import annotations

import grpc
import pytest

from wattlane.api.identity.v1 import auth_pb2, internal_pb2, internal_pb2_grpc, users_pb2
from wattlane.core.client import channel
from wattlane.identity.testing import Client, TreeBuilder, unique


async def _stub(
    admin: Client, scopes: list[str]
) -> tuple[internal_pb2_grpc.IdentityInternalServiceStub, object]:
    created = await admin.service_accounts.CreateServiceAccount(
        auth_pb2.CreateServiceAccountRequest(
            service_account=auth_pb2.ServiceAccount(service=f"test-{unique('dir').lower()}", scopes=scopes)
        )
    )
    token = await admin.auth.IssueServiceToken(
        auth_pb2.IssueServiceTokenRequest(
            client_id=created.service_account.name, client_secret=created.client_secret
        )
    )
    ch = channel(admin.target, token=token.access_token, max_attempts=1)
    return internal_pb2_grpc.IdentityInternalServiceStub(ch), ch


async def test_resolve_owner(admin: Client, tree: TreeBuilder) -> None:
    stub, ch = await _stub(admin, ["identity.directory"])
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    member = await tree.member(customer.name)
    owner = await stub.ResolveOwner(internal_pb2.ResolveOwnerRequest(name=customer.name))
    assert (owner.tenant, owner.tenant_path, owner.kind) == (customer.name, customer.path, "CUSTOMER")
    of_user = await stub.ResolveOwner(internal_pb2.ResolveOwnerRequest(name=member.user.name))
    assert (of_user.tenant, of_user.tenant_path) == (customer.name, customer.path)
    await admin.users.DeleteUser(users_pb2.DeleteUserRequest(name=member.user.name))
    for name, code in (
        (member.user.name, grpc.StatusCode.NOT_FOUND),
        ("tenants/NOPE", grpc.StatusCode.NOT_FOUND),
        ("cards/x", grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ResolveOwner(internal_pb2.ResolveOwnerRequest(name=name))
        assert raised.value.code() == code
    other, other_ch = await _stub(admin, ["identity.datapoints"])
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await other.ResolveOwner(internal_pb2.ResolveOwnerRequest(name=customer.name))
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    for c in (ch, other_ch):
        await c.close(None)  # type: ignore[attr-defined]


async def test_resolve_owner_names_the_employee_of_a_home_organization(
    admin: Client, tree: TreeBuilder
) -> None:
    """Billing marks sessions at an employee's home point as reimbursed home charging: identity
    says which tenants are home sub-organizations, and whose."""
    stub, ch = await _stub(admin, ["identity.directory"])
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER", customer_type="COMPANY")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    employee = await admin.users.CreateEmployee(
        users_pb2.CreateEmployeeRequest(
            parent=org.name,
            user=users_pb2.User(email=f"{unique('emp')}@example.test", display_name="Eva"),
            create_home_organization=True,
            request_id=unique("req"),
        )
    )
    home = await stub.ResolveOwner(internal_pb2.ResolveOwnerRequest(name=employee.home_organization.name))
    assert home.home_of == employee.user.name and home.kind == "ORGANIZATION"
    office = await stub.ResolveOwner(internal_pb2.ResolveOwnerRequest(name=org.name))
    assert office.home_of == ""
    await ch.close(None)  # type: ignore[attr-defined]
