"""The demo tenant tree `wattlane up` seeds (through the public API, so it is also a smoke test):
an operator with Customer Success, two branded partners, companies and a private customer, and
a user holding each built-in role. Seeding again finds what exists and adds nothing."""

from __future__ import annotations

from dataclasses import dataclass

from wattlane.api.identity.v1 import roles_pb2, tenants_pb2, users_pb2
from wattlane.identity.client import IdentityClient

DEMO_PASSWORD = "wattlane-demo"
T = tenants_pb2.Tenant


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    tenant: str


async def _tenant(admin: IdentityClient, parent: str, tenant: T) -> T:
    found = await admin.tenants.ListTenants(
        tenants_pb2.ListTenantsRequest(parent=parent, filter=f'display_name = "{tenant.display_name}"')
    )
    if found.tenants:
        return found.tenants[0]
    return await admin.tenants.CreateTenant(tenants_pb2.CreateTenantRequest(parent=parent, tenant=tenant))


async def _user(
    admin: IdentityClient, tenant: T, email: str, name: str, role: str, locale: str = ""
) -> DemoLogin:
    found = await admin.users.ListUsers(users_pb2.ListUsersRequest(filter=f'email = "{email}"'))
    if not found.users:
        user = await admin.users.CreateUser(
            users_pb2.CreateUserRequest(
                parent=tenant.name, user=users_pb2.User(email=email, display_name=name, locale=locale)
            )
        )
        with_role = roles_pb2.RoleBinding(
            user=user.name, role=f"roles/{role}", tenant=tenant.name, propagate=True
        )
        await admin.roles.CreateRoleBinding(roles_pb2.CreateRoleBindingRequest(role_binding=with_role))
        invitation = await admin.users.CreateInvitation(users_pb2.CreateInvitationRequest(user=user.name))
        await admin.users.AcceptInvitation(
            users_pb2.AcceptInvitationRequest(token=invitation.token, password=DEMO_PASSWORD)
        )
    return DemoLogin(role, email, f"{tenant.display_name} ({tenant.name})")


async def _employee(admin: IdentityClient, org: T, email: str, name: str) -> DemoLogin:
    found = await admin.users.ListUsers(users_pb2.ListUsersRequest(filter=f'email = "{email}"'))
    if not found.users:
        employee = await admin.users.CreateEmployee(
            users_pb2.CreateEmployeeRequest(
                parent=org.name,
                user=users_pb2.User(email=email, display_name=name),
                create_home_organization=True,
            )
        )
        invitation = await admin.users.CreateInvitation(
            users_pb2.CreateInvitationRequest(user=employee.user.name)
        )
        await admin.users.AcceptInvitation(
            users_pb2.AcceptInvitationRequest(token=invitation.token, password=DEMO_PASSWORD)
        )
    return DemoLogin("employee", email, f"{org.display_name} ({org.name}) + home sub-organization")


async def seed(admin: IdentityClient) -> list[DemoLogin]:
    """Create (or find) the demo tree; returns the demo logins."""
    roots = await admin.tenants.ListTenants(tenants_pb2.ListTenantsRequest(filter="kind = OPERATOR"))
    root = roots.tenants[0]
    voltera = await _tenant(
        admin,
        root.name,
        T(
            kind=T.PARTNER,
            display_name="Voltera Installers",
            locale="nl",
            time_zone="Europe/Amsterdam",
            brand=tenants_pb2.Brand(
                name="Voltera",
                logo_url="https://voltera.example/logo.svg",
                primary_color="#0b6e4f",
                secondary_color="#f2c14e",
                mail_domain="mail.voltera.example",
            ),
        ),
    )
    chargeco = await _tenant(
        admin,
        root.name,
        T(
            kind=T.PARTNER,
            display_name="ChargeCo Partners",
            locale="en",
            time_zone="Europe/London",
            brand=tenants_pb2.Brand(
                name="ChargeCo",
                logo_url="https://chargeco.example/logo.png",
                primary_color="#1d3557",
                secondary_color="#e63946",
                mail_domain="mail.chargeco.example",
            ),
        ),
    )
    acme = await _tenant(
        admin, voltera.name, T(kind=T.CUSTOMER, display_name="Acme Logistics", customer_type=T.COMPANY)
    )
    acme_hq = await _tenant(admin, acme.name, T(kind=T.ORGANIZATION, display_name="Acme HQ Amsterdam"))
    await _tenant(admin, acme.name, T(kind=T.ORGANIZATION, display_name="Acme Depot Utrecht"))
    await _tenant(
        admin, voltera.name, T(kind=T.CUSTOMER, display_name="Jan de Vries", customer_type=T.PRIVATE_USER)
    )
    globex = await _tenant(
        admin, chargeco.name, T(kind=T.CUSTOMER, display_name="Globex Ltd", customer_type=T.COMPANY)
    )
    globex_org = await _tenant(admin, globex.name, T(kind=T.ORGANIZATION, display_name="Globex London"))
    return [
        DemoLogin("operator-admin", "admin@wattlane.local", f"{root.display_name} ({root.name})"),
        await _user(admin, root, "cs@wattlane.local", "Casey Success", "customer-success"),
        await _user(admin, voltera, "admin@voltera.example", "Vera Voltera", "partner-admin", "nl"),
        await _user(admin, chargeco, "admin@chargeco.example", "Charlie Charge", "partner-admin"),
        await _user(admin, acme, "admin@acme.example", "Ada Acme", "organization-admin", "nl"),
        await _user(admin, acme_hq, "member@acme.example", "Mo Member", "organization-member", "nl"),
        await _employee(admin, acme_hq, "eva@acme.example", "Eva Employee"),
        await _user(admin, acme_hq, "driver@acme.example", "Dirk Driver", "cardholder", "nl"),
        await _user(admin, globex_org, "admin@globex.example", "Gina Globex", "organization-admin"),
    ]
