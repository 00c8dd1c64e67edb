"""ListUsers: what each caller sees under a parent, recursively or not, paged and filtered."""

from __future__ import annotations

import grpc
import pytest

from wattlane.api.identity.v1 import users_pb2
from wattlane.identity.testing import Client, TreeBuilder


async def _names(client: Client, **request: object) -> list[str]:
    names: list[str] = []
    req = users_pb2.ListUsersRequest(**request)  # type: ignore[arg-type]
    while True:
        reply = await client.users.ListUsers(req)
        names += [u.name for u in reply.users]
        if not reply.next_page_token:
            return names
        req.page_token = reply.next_page_token


async def test_scoped_listing(admin: Client, tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    other_partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    sub = await tree.tenant(org.name, "ORGANIZATION")
    partner_admin = await tree.member(partner.name, [("partner-admin", partner.name)])
    org_admin = await tree.member(org.name, [("organization-admin", org.name)])
    in_sub = [(await tree.member(sub.name)).user.name for _ in range(3)]
    in_org = [org_admin.user.name, (await tree.member(org.name)).user.name]
    elsewhere = (await tree.member(other_partner.name)).user.name

    below_partner = await _names(partner_admin.client, parent=partner.name, recursive=True, page_size=2)
    assert below_partner == sorted([partner_admin.user.name, *in_org, *in_sub])
    assert await _names(partner_admin.client, parent=partner.name) == [partner_admin.user.name]
    assert await _names(org_admin.client, parent=org.name) == sorted(in_org)
    assert await _names(org_admin.client, parent=org.name, recursive=True) == sorted(in_org + in_sub)
    assert await _names(org_admin.client, parent=sub.name, recursive=True) == sorted(in_sub)
    # Everything in scope: no parent.
    assert await _names(org_admin.client, page_size=1) == sorted(in_org + in_sub)
    assert elsewhere in await _names(admin, parent=other_partner.name)

    # Out of scope reads as absent; above one's grant too.
    for parent in (other_partner.name, partner.name, "tenants/nope"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await org_admin.client.users.ListUsers(users_pb2.ListUsersRequest(parent=parent, recursive=True))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_filter_and_page_token_binding(tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    partner_admin = await tree.member(partner.name, [("partner-admin", partner.name)])
    for _ in range(3):
        await tree.member(partner.name)  # active (accepted) users
    invited = await partner_admin.client.users.CreateUser(
        users_pb2.CreateUserRequest(
            parent=partner.name, user=users_pb2.User(email="invited-filter@example.test", display_name="I")
        )
    )
    client = partner_admin.client
    assert await _names(client, parent=partner.name, filter="state = INVITED") == [invited.name]
    assert len(await _names(client, parent=partner.name, filter="state = ACTIVE", page_size=1)) == 4
    first = await client.users.ListUsers(users_pb2.ListUsersRequest(parent=partner.name, page_size=1))
    with pytest.raises(grpc.aio.AioRpcError) as err:  # a token is only good for the same query
        await client.users.ListUsers(
            users_pb2.ListUsersRequest(
                parent=partner.name, page_size=1, page_token=first.next_page_token, filter="state = ACTIVE"
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    reply = await client.users.ListUsers(users_pb2.ListUsersRequest(parent=partner.name, page_size=10))
    user = next(u for u in reply.users if u.name == invited.name)
    assert user == invited  # the list shows a user exactly as the other RPCs do
