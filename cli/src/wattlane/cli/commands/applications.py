"""wattlane applications list | show | approve | reject, and accounts / licenses commands."""

from __future__ import annotations

import argparse

from wattlane.api.identity.v1 import accounts_pb2
from wattlane.cli.output import as_json, resource, table
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient

A = accounts_pb2.Application


def _rows(apps: list[A]) -> str:
    return table(
        ["name", "kind", "state", "account", "customer", "requested by", "created"],
        [
            (
                a.name,
                A.Kind.Name(a.kind),
                A.State.Name(a.state),
                a.account,
                a.customer,
                a.requested_by,
                a.create_time.ToDatetime().strftime("%Y-%m-%d %H:%M"),
            )
            for a in apps
        ],
    )


async def list_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    clauses = []
    if not args.all:
        clauses.append("state = PENDING")
    if args.kind:
        clauses.append(f"kind = {args.kind.upper()}")
    if args.partner:
        clauses.append(f'partner = "{resource("tenants", args.partner)}"')
    page = await client.applications.ListApplications(
        accounts_pb2.ListApplicationsRequest(filter=" AND ".join(clauses), page_size=1000)
    )
    print(as_json(list(page.applications)) if args.json else _rows(list(page.applications)))


async def show(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    app = await client.applications.GetApplication(
        accounts_pb2.GetApplicationRequest(name=resource("applications", args.name))
    )
    account = await client.accounts.GetAccount(accounts_pb2.GetAccountRequest(name=app.account))
    print(as_json(app))
    print(as_json(account))


async def approve(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    app = await client.applications.ApproveApplication(
        accounts_pb2.ApproveApplicationRequest(name=resource("applications", args.name))
    )
    print(_rows([app]))


async def reject(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    app = await client.applications.RejectApplication(
        accounts_pb2.RejectApplicationRequest(name=resource("applications", args.name), reason=args.reason)
    )
    print(_rows([app]))


async def accounts_list(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    page = await client.accounts.ListAccounts(accounts_pb2.ListAccountsRequest(page_size=1000))
    print(
        table(
            ["name", "account", "plan", "state", "datapoints used/allowed", "expires", "customer"],
            [
                (
                    a.name,
                    a.display_name,
                    a.plan,
                    accounts_pb2.Account.State.Name(a.state),
                    f"{a.datapoints_used}/{a.datapoints}",
                    a.expiry_date or "-",
                    a.customer,
                )
                for a in page.accounts
            ],
        )
    )


async def licenses_buy(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    purchase = await client.licenses.PurchaseLicenses(
        accounts_pb2.PurchaseLicensesRequest(
            parent=resource("tenants", args.organization),
            type=accounts_pb2.LicenseType.Value(args.type.upper()),
            quantity=args.quantity,
        )
    )
    print(f"bought {purchase.quantity} {args.type.upper()} license(s) ({purchase.name})")


async def licenses_pools(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    pools = await client.licenses.ListLicensePools(
        accounts_pb2.ListLicensePoolsRequest(parent=resource("tenants", args.organization))
    )
    print(
        table(
            ["type", "purchased", "in use", "available"],
            [
                (accounts_pb2.LicenseType.Name(p.type), p.purchased, p.allocated, p.available)
                for p in pools.pools
            ],
        )
    )


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("applications", help="account applications (Customer Success)").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("list", help="pending applications (--all for every state)")
    p.add_argument("--all", action="store_true")
    p.add_argument(
        "--kind", choices=["create_account", "change_datapoints", "change_plan", "extend", "renew"]
    )
    p.add_argument("--partner", help="tenants/ID of a partner")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=list_)
    p = group.add_parser("show")
    p.add_argument("name")
    p.set_defaults(handler=show)
    p = group.add_parser("approve")
    p.add_argument("name")
    p.set_defaults(handler=approve)
    p = group.add_parser("reject")
    p.add_argument("name")
    p.add_argument("--reason", required=True)
    p.set_defaults(handler=reject)

    accounts = sub.add_parser("accounts", help="accounts in your scope").add_subparsers(
        dest="action", required=True
    )
    accounts.add_parser("list").set_defaults(handler=accounts_list)

    licenses = sub.add_parser("licenses", help="feature licenses").add_subparsers(
        dest="action", required=True
    )
    p = licenses.add_parser("buy")
    p.add_argument("--organization", required=True)
    p.add_argument("--type", required=True, choices=["ac_charging", "dc_charging", "load_management"])
    p.add_argument("--quantity", type=int, required=True)
    p.set_defaults(handler=licenses_buy)
    p = licenses.add_parser("pools")
    p.add_argument("--organization", required=True)
    p.set_defaults(handler=licenses_pools)
