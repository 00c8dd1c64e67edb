"""The demo tenant tree `wattlane up` seeds (through the public API, so it is also a smoke test):
an operator with Customer Success, two branded partners, companies and a private customer, and
a user holding each built-in role. Seeding again finds what exists and adds nothing."""

from __future__ import annotations

from dataclasses import dataclass

from wattlane.api.identity.v1 import accounts_pb2, roles_pb2, tenants_pb2, users_pb2
from wattlane.core.clients.identity import IdentityClient

DEMO_PASSWORD = "wattlane-demo"
T = tenants_pb2.Tenant


@dataclass(frozen=True)
class Seeded:
    """What the demo seeding made: logins to print, an application to approve, key tenants."""

    logins: list[DemoLogin]
    pending_application: str
    tenants: dict[str, tenants_pb2.Tenant]


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


async def seed_tree(admin: IdentityClient) -> tuple[list[DemoLogin], dict[str, T]]:
    """Create (or find) the demo tree and its users; returns the logins and the key tenants."""
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
            country="NL",
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
            country="GB",
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
    acme_depot = await _tenant(admin, acme.name, T(kind=T.ORGANIZATION, display_name="Acme Depot Utrecht"))
    await _tenant(
        admin, voltera.name, T(kind=T.CUSTOMER, display_name="Jan de Vries", customer_type=T.PRIVATE_USER)
    )
    globex = await _tenant(
        admin, chargeco.name, T(kind=T.CUSTOMER, display_name="Globex Ltd", customer_type=T.COMPANY)
    )
    globex_org = await _tenant(admin, globex.name, T(kind=T.ORGANIZATION, display_name="Globex London"))
    logins = [
        DemoLogin("operator-admin", "admin@wattlane.local", f"{root.display_name} ({root.name})"),
        await _user(admin, root, "cs@wattlane.local", "Casey Success", "customer-success"),
        await _user(admin, voltera, "admin@voltera.example", "Vera Voltera", "partner-admin", "nl"),
        await _user(admin, chargeco, "admin@chargeco.example", "Charlie Charge", "partner-admin"),
        await _user(admin, acme, "admin@acme.example", "Ada Acme", "organization-admin", "nl"),
        await _user(admin, acme_hq, "member@acme.example", "Mo Member", "organization-member", "nl"),
        await _employee(admin, acme_hq, "eva@acme.example", "Eva Employee"),
        await _user(admin, acme_hq, "driver@acme.example", "Dirk Driver", "cardholder", "nl"),
        await _user(admin, globex, "admin@globex.example", "Gina Globex", "organization-admin"),
    ]
    tenants = {
        "root": root,
        "voltera": voltera,
        "chargeco": chargeco,
        "acme": acme,
        "acme_hq": acme_hq,
        "acme_depot": acme_depot,
        "globex": globex,
        "globex_org": globex_org,
    }
    return logins, tenants


async def _account_of(client: IdentityClient, customer: T) -> accounts_pb2.Account | None:
    page = await client.accounts.ListAccounts(accounts_pb2.ListAccountsRequest(parent=customer.name))
    live = [a for a in page.accounts if a.state != accounts_pb2.Account.REJECTED]
    return live[0] if live else None


async def _approved_account(
    requester: IdentityClient, cs: IdentityClient, customer: T, orgs: list[T], name: str, datapoints: int
) -> accounts_pb2.Account:
    """The customer's account, applied for and approved by Customer Success if it is new."""
    account = await _account_of(requester, customer)
    if account is None:
        application = await requester.applications.CreateApplication(
            accounts_pb2.CreateApplicationRequest(
                parent=customer.name,
                application=accounts_pb2.Application(
                    kind=accounts_pb2.Application.CREATE_ACCOUNT,
                    new_account=accounts_pb2.Account(
                        display_name=name,
                        plan="business",
                        datapoints=datapoints,
                        sector="logistics",
                        organizations=[o.name for o in orgs],
                    ),
                ),
            )
        )
        await cs.applications.ApproveApplication(
            accounts_pb2.ApproveApplicationRequest(name=application.name)
        )
        account = await _account_of(requester, customer)
        assert account is not None
    return account


async def seed(client: IdentityClient, admin_password: str) -> Seeded:
    """Seed the demo tree, its accounts (approved through the real approval workflow), a batch
    of licenses, and one application left pending for a newcomer to approve."""
    target = client.target
    admin = await client.login("admin@wattlane.local", admin_password)
    clients = [admin]
    try:
        logins, t = await seed_tree(admin)
        acme_admin = await IdentityClient(target, max_attempts=4).login("admin@acme.example", DEMO_PASSWORD)
        globex_admin = await IdentityClient(target, max_attempts=4).login(
            "admin@globex.example", DEMO_PASSWORD
        )
        cs = await IdentityClient(target, max_attempts=4).login("cs@wattlane.local", DEMO_PASSWORD)
        clients += [acme_admin, globex_admin, cs]
        acme_account = await _approved_account(
            acme_admin, cs, t["acme"], [t["acme_hq"], t["acme_depot"]], "Acme fleet charging", 40
        )
        await _approved_account(
            globex_admin, cs, t["globex"], [t["globex_org"]], "Globex office charging", 20
        )
        pools = await acme_admin.licenses.ListLicensePools(
            accounts_pb2.ListLicensePoolsRequest(parent=t["acme_hq"].name)
        )
        if not any(p.purchased for p in pools.pools):
            for license_type, quantity in ((accounts_pb2.AC_CHARGING, 10), (accounts_pb2.DC_CHARGING, 2)):
                await acme_admin.licenses.PurchaseLicenses(
                    accounts_pb2.PurchaseLicensesRequest(
                        parent=t["acme_hq"].name, type=license_type, quantity=quantity
                    )
                )
        pending = await acme_admin.applications.ListApplications(
            accounts_pb2.ListApplicationsRequest(parent=t["acme"].name, filter="state = PENDING")
        )
        if pending.applications:
            pending_name = pending.applications[0].name
        else:
            more = await acme_admin.applications.CreateApplication(
                accounts_pb2.CreateApplicationRequest(
                    parent=t["acme"].name,
                    application=accounts_pb2.Application(
                        kind=accounts_pb2.Application.CHANGE_DATAPOINTS,
                        account=acme_account.name,
                        datapoints=60,
                        comment="Twenty more charging points at the Utrecht depot",
                    ),
                )
            )
            pending_name = more.name
        return Seeded(logins, pending_name, t)
    finally:
        for c in clients:
            await c.close()
