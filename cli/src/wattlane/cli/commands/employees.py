"""wattlane employees create | list: employees of a company's organization, each optionally with a
home sub-organization they own (a home charging point, split-billing reimbursements). An employee
is a user: `wattlane users` changes, disables or deletes them."""

from __future__ import annotations

import argparse

from wattlane.api.identity.v1 import tenants_pb2, users_pb2
from wattlane.cli.output import as_json, list_flags, output_flags, print_list, resource
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient

U = users_pb2.User


async def create(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    employee = await client.users.CreateEmployee(
        users_pb2.CreateEmployeeRequest(
            parent=resource("tenants", args.organization),
            user=U(email=args.email, display_name=args.display_name, locale=args.locale or ""),
            create_home_organization=args.home_organization or bool(args.home_name),
            home_organization_display_name=args.home_name or "",
            request_id=args.request_id or "",
        )
    )
    if args.json:
        print(as_json(employee))
        return
    home = employee.home_organization
    print(
        f"created {employee.user.name} <{employee.user.email}> ({U.State.Name(employee.user.state).lower()})"
    )
    print(f"  home organization: {f'{home.name} ({home.display_name})' if home.name else '-'}")


async def list_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    organization = resource("tenants", args.organization)
    page = await client.users.ListUsers(
        users_pb2.ListUsersRequest(
            parent=organization, filter=args.filter or "", page_size=args.limit, page_token=args.page_token
        )
    )
    # Home organizations are sub-organizations owned by one user.
    homes: dict[str, tenants_pb2.Tenant] = {}
    token = ""
    while True:
        children = await client.tenants.ListTenants(
            tenants_pb2.ListTenantsRequest(parent=organization, page_size=500, page_token=token)
        )
        homes.update({t.owner_user: t for t in children.tenants if t.owner_user})
        token = children.next_page_token
        if not token:
            break

    def row(u: U) -> tuple[object, ...]:
        home = homes.get(u.name)
        return (u.name, u.email, u.display_name, U.State.Name(u.state).lower(), home.name if home else "-")

    headers = ["name", "email", "display name", "state", "home organization"]
    print_list(args, page.users, page.next_page_token, headers, row)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser(
        "employees", help="employees of company organizations, with home organizations"
    ).add_subparsers(dest="action", required=True)
    p = group.add_parser("create", help="a user with the employee role at a company's organization")
    p.add_argument("--organization", required=True, help="tenants/ID of a company customer's organization")
    p.add_argument("--email", required=True)
    p.add_argument("--name", dest="display_name", required=True, help="the employee's name")
    p.add_argument("--locale", help="BCP 47, e.g. nl (default: the organization's)")
    p.add_argument(
        "--home-organization", action="store_true", help="also create a home sub-organization they own"
    )
    p.add_argument("--home-name", help='its name (default "Home of <name>"; implies --home-organization)')
    p.add_argument("--request-id", help="idempotency key: a retry never creates a second employee")
    output_flags(p)
    p.set_defaults(handler=create)
    p = group.add_parser("list", help="users of an organization, each with their home organization")
    p.add_argument("organization", help="tenants/ID")
    list_flags(p, 'state = ACTIVE AND email:"@acme.example"')
    p.set_defaults(handler=list_)
