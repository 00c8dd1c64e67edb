"""wattlane applications list | show | create | approve | reject, and accounts / licenses commands.

`applications create` asks Customer Success for a new account (create_account), more or fewer
datapoints (change_datapoints), another plan (change_plan), an extension (extend) or a renewal
(renew); nothing changes on the account before approval."""

from __future__ import annotations

import argparse

from wattlane.api.identity.v1 import accounts_pb2
from wattlane.cli.output import as_json, output_flags, resource, table
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


KINDS = ("create_account", "change_datapoints", "change_plan", "extend", "renew")
# The flags each kind needs (checked here so the message names the flag, not a proto field).
NEEDS = {
    "create_account": ("display_name", "plan", "datapoints", "sector", "organization"),
    "change_datapoints": ("account", "datapoints"),
    "change_plan": ("account", "plan"),
    "extend": ("account", "months"),
    "renew": ("account",),
}


async def create(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    missing = [f"--{f.replace('_', '-')}" for f in NEEDS[args.kind] if getattr(args, f) is None]
    if missing:
        raise SystemExit(f"create --kind {args.kind}: also give {', '.join(missing)}")
    app = A(kind=A.Kind.Value(args.kind.upper()), comment=args.comment or "")
    if args.kind == "create_account":
        app.new_account.CopyFrom(
            accounts_pb2.Account(
                display_name=args.display_name,
                plan=args.plan,
                datapoints=args.datapoints,
                sector=args.sector,
                period_months=args.months or 0,
                organizations=[resource("tenants", o) for o in args.organization or []],
                comment=args.comment or "",
            )
        )
    else:
        app.account = resource("accounts", args.account)
        app.datapoints = args.datapoints or 0
        app.plan = args.plan or ""
        app.months = args.months or 0
    created = await client.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=resource("tenants", args.customer), application=app, request_id=args.request_id or ""
        )
    )
    print(as_json(created) if args.json else _rows([created]))


async def plans(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    found = await client.accounts.ListPlans(accounts_pb2.ListPlansRequest())
    print(
        as_json(list(found.plans))
        if args.json
        else table(["plan", "name", "includes"], [(p.id, p.display_name, p.description) for p in found.plans])
    )


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
    if args.json:
        print(as_json(list(page.accounts)))
        return
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
    if args.json:
        print(as_json(list(pools.pools)))
        return
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
    output_flags(p)
    p.set_defaults(handler=list_)
    p = group.add_parser("show")
    p.add_argument("name")
    p.set_defaults(handler=show)
    p = group.add_parser(
        "create", help="ask for a new account, datapoints, another plan, an extension or renewal"
    )
    p.add_argument("--customer", required=True, help="the customer: tenants/ID")
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--account", help="the account concerned (all kinds but create_account): accounts/ID")
    p.add_argument("--name", dest="display_name", help="create_account: the account's name")
    p.add_argument("--plan", help="create_account, change_plan: the plan id (see `applications plans`)")
    p.add_argument("--datapoints", type=int, help="create_account, change_datapoints: the quota (>= 20)")
    p.add_argument("--sector", help="create_account: e.g. logistics, hospitality, residential")
    p.add_argument(
        "--organization", action="append", help="create_account: an organization covered (repeatable)"
    )
    p.add_argument("--months", type=int, help="extend, renew: months (create_account: the period)")
    p.add_argument("--comment", help="for Customer Success")
    p.add_argument("--request-id", help="idempotency key: a retry never creates a second application")
    output_flags(p)
    p.set_defaults(handler=create)
    p = group.add_parser("plans", help="the plans an account can have")
    output_flags(p)
    p.set_defaults(handler=plans)
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
    p = accounts.add_parser("list")
    output_flags(p)
    p.set_defaults(handler=accounts_list)

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
    output_flags(p)
    p.set_defaults(handler=licenses_pools)
