"""UserService: invitations, sign-in, state changes, removal revoking access at once, password
resets, employees with home sub-organizations."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from wattlane.api.identity.v1 import auth_pb2, roles_pb2, tenants_pb2, users_pb2
from wattlane.core.errors import error_info, field_violations
from wattlane.identity.testing import USER_PASSWORD, Client, TreeBuilder, unique

U = users_pb2.User


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


async def _org(
    tree: TreeBuilder, customer_type: str = "COMPANY"
) -> tuple[tenants_pb2.Tenant, tenants_pb2.Tenant]:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER", customer_type=customer_type)
    return customer, await tree.tenant(customer.name, "ORGANIZATION")


async def test_invitation_flow(admin: Client, tree: TreeBuilder, identity_target: str) -> None:
    _, org = await _org(tree)
    email = f"{unique('Inv')}@Example.test"
    user = await admin.users.CreateUser(
        users_pb2.CreateUserRequest(parent=org.name, user=U(email=email, display_name="Ingrid"))
    )
    assert user.state == U.INVITED and user.email == email.lower() and user.locale == org.locale
    client = Client(identity_target)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:  # invited users cannot sign in yet
            await client.login(email, "whatever-password")
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        old = await admin.users.CreateInvitation(users_pb2.CreateInvitationRequest(user=user.name))
        invitation = await admin.users.CreateInvitation(users_pb2.CreateInvitationRequest(user=user.name))
        with pytest.raises(grpc.aio.AioRpcError) as raised:  # a newer invitation replaces the older
            await client.users.AcceptInvitation(
                users_pb2.AcceptInvitationRequest(token=old.token, password=USER_PASSWORD)
            )
        assert field_violations(raised.value)[0].field == "token"
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.users.AcceptInvitation(
                users_pb2.AcceptInvitationRequest(token=invitation.token, password="short")
            )
        assert field_violations(raised.value)[0].field == "password"
        accepted = await client.users.AcceptInvitation(
            users_pb2.AcceptInvitationRequest(token=invitation.token, password=USER_PASSWORD)
        )
        assert accepted.state == U.ACTIVE
        with pytest.raises(grpc.aio.AioRpcError):  # one-time
            await client.users.AcceptInvitation(
                users_pb2.AcceptInvitationRequest(token=invitation.token, password=USER_PASSWORD)
            )
        await client.login(email.upper(), USER_PASSWORD)
        me = await client.users.GetUser(users_pb2.GetUserRequest(name="users/me"))
        assert me.name == user.name
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await admin.users.CreateInvitation(users_pb2.CreateInvitationRequest(user=user.name))
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        await client.close()


async def test_duplicate_email_and_bad_fields(admin: Client, tree: TreeBuilder) -> None:
    _, org = await _org(tree)
    email = f"{unique('dup')}@example.test"
    await admin.users.CreateUser(
        users_pb2.CreateUserRequest(parent=org.name, user=U(email=email, display_name="a"))
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.users.CreateUser(
            users_pb2.CreateUserRequest(parent=org.name, user=U(email=email.upper(), display_name="b"))
        )
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    for user, field in (
        (U(email="not-an-email", display_name="x"), "user.email"),
        (U(email="", display_name="x"), "user.email"),
        (U(email=f"{unique('x')}@example.test", display_name=""), "user.display_name"),
        (U(email=f"{unique('x')}@example.test", display_name="x", locale="dutch"), "user.locale"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await admin.users.CreateUser(users_pb2.CreateUserRequest(parent=org.name, user=user))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(raised.value)[0].field == field


async def test_removing_a_member_revokes_access_at_once(tree: TreeBuilder) -> None:
    _, org = await _org(tree)
    boss = await tree.member(org.name, [("organization-admin", org.name)])
    member = await tree.member(org.name, [("organization-member", org.name)])
    # The member's token works and its scope is cached.
    await member.client.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=org.name))
    await boss.client.users.DeleteUser(users_pb2.DeleteUserRequest(name=member.user.name))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await member.client.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=org.name))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await member.client.auth.GetEffectiveScope(auth_pb2.GetEffectiveScopeRequest())
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await boss.client.users.GetUser(users_pb2.GetUserRequest(name=member.user.name))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await boss.client.users.DeleteUser(users_pb2.DeleteUserRequest(name=boss.user.name))
    assert error_info(raised.value).reason == "SELF_REMOVAL"  # type: ignore[union-attr]


async def test_disabling_ends_sessions_and_blocks_sign_in(
    admin: Client, tree: TreeBuilder, identity_target: str
) -> None:
    _, org = await _org(tree)
    member = await tree.member(org.name, [("organization-member", org.name)])
    await admin.users.UpdateUser(
        users_pb2.UpdateUserRequest(
            user=U(name=member.user.name, state=U.DISABLED), update_mask=mask("state")
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await member.client.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=org.name))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    client = Client(identity_target)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.login(member.user.email, USER_PASSWORD)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        await admin.users.UpdateUser(
            users_pb2.UpdateUserRequest(
                user=U(name=member.user.name, state=U.ACTIVE), update_mask=mask("state")
            )
        )
        await client.login(member.user.email, USER_PASSWORD)
    finally:
        await client.close()


async def test_users_edit_their_own_name_but_not_their_state(tree: TreeBuilder) -> None:
    _, org = await _org(tree)
    member = await tree.member(org.name, [("cardholder", org.name)])
    renamed = await member.client.users.UpdateUser(
        users_pb2.UpdateUserRequest(
            user=U(name="users/me", display_name="New Me", locale="nl"),
            update_mask=mask("display_name", "locale"),
        )
    )
    assert (renamed.display_name, renamed.locale) == ("New Me", "nl")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await member.client.users.UpdateUser(
            users_pb2.UpdateUserRequest(user=U(name="users/me", state=U.DISABLED), update_mask=mask("state"))
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_password_reset_and_change(admin: Client, tree: TreeBuilder, identity_target: str) -> None:
    _, org = await _org(tree)
    member = await tree.member(org.name, [("cardholder", org.name)])
    reset = await admin.users.CreatePasswordReset(users_pb2.CreatePasswordResetRequest(user=member.user.name))
    anonymous = Client(identity_target)
    try:
        await anonymous.users.ResetPassword(
            users_pb2.ResetPasswordRequest(token=reset.token, new_password="brand-new-password")
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:  # the old session ended
            await member.client.users.GetUser(users_pb2.GetUserRequest(name="users/me"))
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError):
            await anonymous.login(member.user.email, USER_PASSWORD)
        await anonymous.login(member.user.email, "brand-new-password")
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await anonymous.users.ChangePassword(
                users_pb2.ChangePasswordRequest(
                    current_password="wrong-password", new_password="another-password-1"
                )
            )
        assert field_violations(raised.value)[0].field == "current_password"
        await anonymous.users.ChangePassword(
            users_pb2.ChangePasswordRequest(
                current_password="brand-new-password", new_password="another-password-1"
            )
        )
        await anonymous.login(member.user.email, "another-password-1")
        with pytest.raises(grpc.aio.AioRpcError) as raised:  # reset tokens are one-time
            await anonymous.users.ResetPassword(
                users_pb2.ResetPasswordRequest(token=reset.token, new_password="yet-another-password")
            )
        assert field_violations(raised.value)[0].field == "token"
    finally:
        await anonymous.close()


async def test_employee_with_home_organization(tree: TreeBuilder) -> None:
    customer, org = await _org(tree)
    boss = await tree.member(customer.name, [("organization-admin", customer.name)])
    request = users_pb2.CreateEmployeeRequest(
        parent=org.name,
        user=U(email=f"{unique('emp')}@example.test", display_name="Eva"),
        create_home_organization=True,
        request_id=unique("req"),
    )
    employee = await boss.client.users.CreateEmployee(request)
    assert employee.user.tenant == org.name
    home = employee.home_organization
    assert (
        home.parent == org.name
        and home.owner_user == employee.user.name
        and home.display_name == "Home of Eva"
    )
    assert await boss.client.users.CreateEmployee(request) == employee  # retried: same result, no second user
    bindings = await boss.client.roles.ListRoleBindings(
        roles_pb2.ListRoleBindingsRequest(filter=f'user = "{employee.user.name}"')
    )
    assert sorted((b.role, b.tenant) for b in bindings.role_bindings) == sorted(
        [("roles/employee", org.name), ("roles/organization-admin", home.name)]
    )


async def test_private_customers_have_no_employees(tree: TreeBuilder, admin: Client) -> None:
    _, org = await _org(tree, customer_type="PRIVATE_USER")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.users.CreateEmployee(
            users_pb2.CreateEmployeeRequest(
                parent=org.name, user=U(email=f"{unique('e')}@example.test", display_name="E")
            )
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(raised.value).reason == "NOT_A_COMPANY"  # type: ignore[union-attr]


async def test_list_users_filters(admin: Client, tree: TreeBuilder) -> None:
    customer, org = await _org(tree)
    a = await tree.member(org.name)
    b = await tree.member(customer.name)
    direct = await admin.users.ListUsers(users_pb2.ListUsersRequest(parent=customer.name))
    assert [u.name for u in direct.users] == [b.user.name]
    below = await admin.users.ListUsers(users_pb2.ListUsersRequest(parent=customer.name, recursive=True))
    assert [u.name for u in below.users] == [a.user.name, b.user.name]
    by_email = await admin.users.ListUsers(
        users_pb2.ListUsersRequest(parent=customer.name, recursive=True, filter=f'email = "{a.user.email}"')
    )
    assert [u.name for u in by_email.users] == [a.user.name]
    active = await admin.users.ListUsers(
        users_pb2.ListUsersRequest(parent=customer.name, recursive=True, filter="state = INVITED")
    )
    assert list(active.users) == []


async def test_an_unknown_state_is_named(admin: Client, tree: TreeBuilder) -> None:
    _, org = await _org(tree)
    member = await tree.member(org.name, [("organization-member", org.name)])
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.users.UpdateUser(
            users_pb2.UpdateUserRequest(
                user=U(name=member.user.name, state=999),  # type: ignore[arg-type]
                update_mask=mask("state"),
            )
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(raised.value)] == ["user.state"]


async def test_create_user_with_roles_is_one_operation(tree: TreeBuilder) -> None:
    """Issue 15: a user created with a role either exists with it or not at all; a partner admin
    (the README's example) gives organization-member at its customers' organizations."""
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    partner_admin = await tree.member(partner.name, [("partner-admin", partner.name)])
    email = f"{unique('new')}@example.test"
    created = await partner_admin.client.users.CreateUser(
        users_pb2.CreateUserRequest(
            parent=org.name, user=U(email=email, display_name="New"), roles=["roles/organization-member"]
        )
    )
    assert created.state == U.INVITED
    bindings = await partner_admin.client.roles.ListRoleBindings(
        roles_pb2.ListRoleBindingsRequest(parent=org.name, filter=f'user = "{created.name}"')
    )
    assert [(b.role, b.tenant, b.propagate) for b in bindings.role_bindings] == [
        ("roles/organization-member", org.name, True)
    ]
    # A role the caller may not give (organization-admin holds licenses.purchase) creates nothing.
    other = f"{unique('new')}@example.test"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await partner_admin.client.users.CreateUser(
            users_pb2.CreateUserRequest(
                parent=org.name,
                user=U(email=other, display_name="Other"),
                roles=["roles/organization-member", "roles/organization-admin"],
            )
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    found = await partner_admin.client.users.ListUsers(
        users_pb2.ListUsersRequest(parent=org.name, filter=f'email = "{other}"')
    )
    assert list(found.users) == []
    # Unknown and malformed roles name the field; nothing is created either.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await partner_admin.client.users.CreateUser(
            users_pb2.CreateUserRequest(
                parent=org.name, user=U(email=other, display_name="Other"), roles=["roles/nope"]
            )
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await partner_admin.client.users.CreateUser(
            users_pb2.CreateUserRequest(
                parent=org.name, user=U(email=other, display_name="Other"), roles=["organization-member"]
            )
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "roles[0]" in {v.field for v in field_violations(raised.value)}
    # The retry without the refused role succeeds (no ALREADY_EXISTS from a half-made user).
    retried = await partner_admin.client.users.CreateUser(
        users_pb2.CreateUserRequest(parent=org.name, user=U(email=other, display_name="Other"))
    )
    assert retried.email == other
