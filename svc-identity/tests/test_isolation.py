"""Property: in random tenant trees with random role holders, no user can read or change
anything outside their scope through any identity RPC (the shared harness in
wattlane.core.testing.isolation decides what each call must answer)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from google.protobuf import field_mask_pb2
from hypothesis import Phase, given, note, settings
from hypothesis import strategies as st

from wattlane.api.common.v1 import audit_pb2
from wattlane.api.identity.v1 import accounts_pb2, roles_pb2, tenants_pb2, users_pb2
from wattlane.core.testing.isolation import Actor, Grant, ListProbe, Probe, Target, check_isolation
from wattlane.identity.permissions import BUILTIN_ROLES
from wattlane.identity.testing import Client, TreeBuilder, unique

ROLES_BY_KIND = {
    "PARTNER": ["partner-admin", "organization-member"],
    "CUSTOMER": ["organization-admin", "organization-member", "cardholder"],
    "ORGANIZATION": ["organization-admin", "organization-member", "cardholder", "employee"],
}


def _mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


TENANT_PROBES = [
    Probe(
        "GetTenant",
        "tenants",
        "tenants.read",
        "read",
        lambda a, t: a.client.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=t.name)),
    ),
    Probe(
        "ListTenants(parent)",
        "tenants",
        "tenants.read",
        "read",
        lambda a, t: a.client.tenants.ListTenants(tenants_pb2.ListTenantsRequest(parent=t.name)),
    ),
    Probe(
        "UpdateTenant",
        "tenants",
        "tenants.manage",
        "write",
        lambda a, t: a.client.tenants.UpdateTenant(
            tenants_pb2.UpdateTenantRequest(
                tenant=tenants_pb2.Tenant(name=t.name, display_name="hijacked"),
                update_mask=_mask("display_name"),
            )
        ),
    ),
    Probe(
        "DeleteTenant",
        "tenants",
        "tenants.manage",
        "write",
        lambda a, t: a.client.tenants.DeleteTenant(tenants_pb2.DeleteTenantRequest(name=t.name)),
    ),
    Probe(
        "CreateTenant(under)",
        "tenants",
        "tenants.manage",
        "write",
        lambda a, t: a.client.tenants.CreateTenant(
            tenants_pb2.CreateTenantRequest(
                parent=t.name,
                tenant=tenants_pb2.Tenant(kind=tenants_pb2.Tenant.ORGANIZATION, display_name="intruder"),
            )
        ),
    ),
    Probe(
        "ListUsers(parent)",
        "tenants",
        "users.read",
        "read",
        lambda a, t: a.client.users.ListUsers(users_pb2.ListUsersRequest(parent=t.name)),
    ),
    Probe(
        "CreateUser(under)",
        "tenants",
        "users.manage",
        "write",
        lambda a, t: a.client.users.CreateUser(
            users_pb2.CreateUserRequest(
                parent=t.name, user=users_pb2.User(email=f"{unique('x')}@intruder.test", display_name="x")
            )
        ),
    ),
    Probe(
        "CreateEmployee(under)",
        "tenants",
        "users.manage",
        "write",
        lambda a, t: a.client.users.CreateEmployee(
            users_pb2.CreateEmployeeRequest(
                parent=t.name, user=users_pb2.User(email=f"{unique('x')}@intruder.test", display_name="x")
            )
        ),
    ),
    Probe(
        "ListRoles(parent)",
        "tenants",
        "roles.read",
        "read",
        lambda a, t: a.client.roles.ListRoles(roles_pb2.ListRolesRequest(parent=t.name)),
    ),
    Probe(
        "CreateRole(under)",
        "tenants",
        "roles.manage",
        "write",
        lambda a, t: a.client.roles.CreateRole(
            roles_pb2.CreateRoleRequest(
                parent=t.name, role=roles_pb2.Role(display_name=unique("r"), permissions=["tenants.read"])
            )
        ),
    ),
    Probe(
        "ListRoleBindings(parent)",
        "tenants",
        "users.read",
        "read",
        lambda a, t: a.client.roles.ListRoleBindings(roles_pb2.ListRoleBindingsRequest(parent=t.name)),
    ),
    Probe(
        "ListAuditEntries(parent)",
        "tenants",
        "audit.read",
        "read",
        lambda a, t: a.client.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(parent=t.name)),
    ),
]

USER_PROBES = [
    Probe(
        "GetUser",
        "users",
        "users.read",
        "read",
        lambda a, t: a.client.users.GetUser(users_pb2.GetUserRequest(name=t.name)),
        self_allowed=True,
    ),
    Probe(
        "UpdateUser(name)",
        "users",
        "users.manage",
        "write",
        lambda a, t: a.client.users.UpdateUser(
            users_pb2.UpdateUserRequest(
                user=users_pb2.User(name=t.name, display_name="hijacked"), update_mask=_mask("display_name")
            )
        ),
        self_allowed=True,
    ),
    Probe(
        "UpdateUser(state)",
        "users",
        "users.manage",
        "write",
        lambda a, t: a.client.users.UpdateUser(
            users_pb2.UpdateUserRequest(
                user=users_pb2.User(name=t.name, state=users_pb2.User.DISABLED), update_mask=_mask("state")
            )
        ),
    ),
    Probe(
        "DeleteUser",
        "users",
        "users.manage",
        "write",
        lambda a, t: a.client.users.DeleteUser(users_pb2.DeleteUserRequest(name=t.name)),
    ),
    Probe(
        "CreateInvitation",
        "users",
        "users.manage",
        "write",
        lambda a, t: a.client.users.CreateInvitation(users_pb2.CreateInvitationRequest(user=t.name)),
    ),
    Probe(
        "CreatePasswordReset",
        "users",
        "users.manage",
        "write",
        lambda a, t: a.client.users.CreatePasswordReset(users_pb2.CreatePasswordResetRequest(user=t.name)),
    ),
]

BINDING_PROBES = [
    Probe(
        "UpdateRoleBinding",
        "roleBindings",
        "users.manage",
        "write",
        lambda a, t: a.client.roles.UpdateRoleBinding(
            roles_pb2.UpdateRoleBindingRequest(
                role_binding=roles_pb2.RoleBinding(name=t.name, propagate=True),
                update_mask=_mask("propagate"),
            )
        ),
    ),
    Probe(
        "DeleteRoleBinding",
        "roleBindings",
        "users.manage",
        "write",
        lambda a, t: a.client.roles.DeleteRoleBinding(roles_pb2.DeleteRoleBindingRequest(name=t.name)),
    ),
]


async def _list_tenants(actor: Actor) -> list[tuple[str, str]]:
    page = await actor.client.tenants.ListTenants(tenants_pb2.ListTenantsRequest(page_size=1000))
    return [(t.name, t.path) for t in page.tenants]


def _list_with_paths(paths: dict[str, str]):  # type: ignore[no-untyped-def]
    async def users(actor: Actor) -> list[tuple[str, str]]:
        page = await actor.client.users.ListUsers(users_pb2.ListUsersRequest(page_size=1000))
        return [(u.name, paths.get(u.tenant, "?")) for u in page.users]

    async def bindings(actor: Actor) -> list[tuple[str, str]]:
        page = await actor.client.roles.ListRoleBindings(roles_pb2.ListRoleBindingsRequest(page_size=1000))
        return [(b.name, paths.get(b.tenant, "?")) for b in page.role_bindings]

    return users, bindings


async def _list_audit(actor: Actor) -> list[tuple[str, str]]:
    page = await actor.client.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(page_size=1000))
    return [(e.name, e.tenant_path) for e in page.audit_entries]


@dataclass
class World:
    tenants: list[tenants_pb2.Tenant]
    actors: list[Actor]
    targets: list[Target]


tree_shapes = st.lists(  # partners
    st.lists(
        st.lists(st.integers(0, 2), min_size=1, max_size=2), min_size=1, max_size=2
    ),  # customers → orgs → subs
    min_size=2,
    max_size=3,
)


async def _apply(
    admin: Client, customer: tenants_pb2.Tenant, org: tenants_pb2.Tenant
) -> accounts_pb2.Application:
    account = accounts_pb2.Account(
        display_name="A", plan="starter", datapoints=20, sector="other", organizations=[org.name]
    )
    return await admin.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=customer.name,
            application=accounts_pb2.Application(
                kind=accounts_pb2.Application.CREATE_ACCOUNT, new_account=account
            ),
        )
    )


ACCOUNT_PROBES = [
    Probe(
        "GetApplication",
        "applications",
        "accounts.read",
        "read",
        lambda a, t: a.client.applications.GetApplication(accounts_pb2.GetApplicationRequest(name=t.name)),
    ),
    Probe(
        "ApproveApplication",
        "applications",
        "accounts.approve",
        "write",
        lambda a, t: a.client.applications.ApproveApplication(
            accounts_pb2.ApproveApplicationRequest(name=t.name)
        ),
    ),
    Probe(
        "RejectApplication",
        "applications",
        "accounts.approve",
        "write",
        lambda a, t: a.client.applications.RejectApplication(
            accounts_pb2.RejectApplicationRequest(name=t.name, reason="no")
        ),
    ),
    Probe(
        "GetAccount",
        "accounts",
        "accounts.read",
        "read",
        lambda a, t: a.client.accounts.GetAccount(accounts_pb2.GetAccountRequest(name=t.name)),
    ),
    Probe(
        "ListApplications(parent)",
        "tenants",
        "accounts.read",
        "read",
        lambda a, t: a.client.applications.ListApplications(
            accounts_pb2.ListApplicationsRequest(parent=t.name)
        ),
    ),
    Probe(
        "ListAccounts(parent)",
        "tenants",
        "accounts.read",
        "read",
        lambda a, t: a.client.accounts.ListAccounts(accounts_pb2.ListAccountsRequest(parent=t.name)),
    ),
    Probe(
        "CreateApplication(under)",
        "tenants",
        "accounts.apply",
        "write",
        lambda a, t: a.client.applications.CreateApplication(
            accounts_pb2.CreateApplicationRequest(
                parent=t.name,
                application=accounts_pb2.Application(kind=accounts_pb2.Application.CREATE_ACCOUNT),
            )
        ),
    ),
    Probe(
        "ListLicensePools",
        "organizations",
        "licenses.read",
        "read",
        lambda a, t: a.client.licenses.ListLicensePools(accounts_pb2.ListLicensePoolsRequest(parent=t.name)),
    ),
    Probe(
        "ListLicensePurchases",
        "organizations",
        "licenses.read",
        "read",
        lambda a, t: a.client.licenses.ListLicensePurchases(
            accounts_pb2.ListLicensePurchasesRequest(parent=t.name)
        ),
    ),
    Probe(
        "ListLicenseAllocations",
        "organizations",
        "licenses.read",
        "read",
        lambda a, t: a.client.licenses.ListLicenseAllocations(
            accounts_pb2.ListLicenseAllocationsRequest(parent=t.name)
        ),
    ),
    Probe(
        "PurchaseLicenses",
        "organizations",
        "licenses.purchase",
        "write",
        lambda a, t: a.client.licenses.PurchaseLicenses(
            accounts_pb2.PurchaseLicensesRequest(parent=t.name, type=accounts_pb2.AC_CHARGING, quantity=1)
        ),
    ),
]


async def build_world(tree: TreeBuilder, shape: list[list[list[int]]], data: st.DataObject) -> World:
    root = await tree.root()
    nodes: list[tenants_pb2.Tenant] = []
    applications: list[tuple[tenants_pb2.Tenant, accounts_pb2.Application]] = []
    for customers in shape:
        partner = await tree.tenant(root.name, "PARTNER")
        nodes.append(partner)
        for orgs in customers:
            customer = await tree.tenant(partner.name, "CUSTOMER")
            nodes.append(customer)
            for subs in orgs:
                org = await tree.tenant(customer.name, "ORGANIZATION")
                nodes.append(org)
                for _ in range(subs):
                    nodes.append(await tree.tenant(org.name, "ORGANIZATION"))
            first_org = next(n for n in nodes if n.parent == customer.name)
            applications.append((customer, await _apply(tree.admin, customer, first_org)))
    actors: list[Actor] = []
    targets = [Target(t.name, "tenants", t.path) for t in nodes]
    targets += [
        Target(t.name, "organizations", t.path) for t in nodes if t.kind == tenants_pb2.Tenant.ORGANIZATION
    ]
    for customer, app in applications:
        targets += [
            Target(app.name, "applications", customer.path),
            Target(app.account, "accounts", customer.path),
        ]
    count = data.draw(st.integers(2, 5), label="actors")
    for i in range(count):
        home = data.draw(st.sampled_from(nodes), label=f"home{i}")
        kind = tenants_pb2.Tenant.Kind.Name(home.kind)
        role = data.draw(st.sampled_from(ROLES_BY_KIND[kind]), label=f"role{i}")
        propagate = data.draw(st.booleans(), label=f"propagate{i}")
        member = await tree.member(home.name, [(role, home.name)], propagate=propagate)
        permissions = frozenset(BUILTIN_ROLES[role][2])
        actor = Actor(
            f"{role}@{kind.lower()}{i}",
            member.client,
            member.user.name,
            [Grant(home.path, propagate, permissions)],
        )
        actors.append(actor)
        targets.append(Target(member.user.name, "users", home.path, owner_user=member.user.name))
        targets.extend(Target(b.name, "roleBindings", home.path) for b in member.bindings)
    return World(nodes, actors, targets)


async def snapshot(admin: Client, world: World) -> list[object]:
    """Everything the world holds, read as the operator admin."""
    out: list[object] = []
    for t in world.targets:
        if t.collection == "tenants":
            out.append(await admin.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=t.name)))
        elif t.collection == "users":
            out.append(await admin.users.GetUser(users_pb2.GetUserRequest(name=t.name)))
    bindings = await admin.roles.ListRoleBindings(roles_pb2.ListRoleBindingsRequest(page_size=1000))
    names = {t.name for t in world.targets}
    out.append(sorted(b.name for b in bindings.role_bindings if b.name in names))
    return out


# Each example builds a whole tree over gRPC: no shrinking (minutes); the failing world is noted.
# Each example probes ~1,000 calls; 8 worlds keep CI on 2 cores in budget (HYPOTHESIS_PROFILE=thorough
# for more).
@pytest.mark.timeout(900)
@settings(
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    max_examples=8 if settings().max_examples <= 12 else settings().max_examples,
)
@given(shape=tree_shapes, data=st.data())
async def test_no_user_reaches_outside_their_scope(
    admin: Client, shape: list[list[list[int]]], data: st.DataObject
) -> None:
    tree = TreeBuilder(admin)
    try:
        world = await build_world(tree, shape, data)
        note(
            "actors: "
            + "; ".join(f"{a.label} grants {[(g.path, g.subtree) for g in a.grants]}" for a in world.actors)
        )
        before = await snapshot(admin, world)
        paths = {t.name: t.path for t in world.tenants}
        list_users, list_bindings = _list_with_paths(paths)

        async def list_applications(actor: Actor) -> list[tuple[str, str]]:
            page = await actor.client.applications.ListApplications(
                accounts_pb2.ListApplicationsRequest(page_size=1000)
            )
            return [(a.name, paths.get(a.customer, "?")) for a in page.applications]

        async def list_accounts(actor: Actor) -> list[tuple[str, str]]:
            page = await actor.client.accounts.ListAccounts(accounts_pb2.ListAccountsRequest(page_size=1000))
            return [(a.name, paths.get(a.customer, "?")) for a in page.accounts]

        violations = await check_isolation(
            world.actors,
            world.targets,
            TENANT_PROBES + USER_PROBES + BINDING_PROBES + ACCOUNT_PROBES,
            [
                ListProbe("ListTenants", _list_tenants),
                ListProbe("ListUsers", list_users),
                ListProbe("ListRoleBindings", list_bindings),
                ListProbe("ListAuditEntries", _list_audit),
                ListProbe("ListApplications", list_applications),
                ListProbe("ListAccounts", list_accounts),
            ],
            sees=lambda actor, name, path: actor.sees(path) or name == actor.user_name,
        )
        assert violations == [], "\n".join(map(str, violations))
        assert await snapshot(admin, world) == before, "an out-of-scope call changed the world"
    finally:
        await tree.close()
