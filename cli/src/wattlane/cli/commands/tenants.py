"""wattlane tenants list | show | create | update | delete (`get` is `show`'s older name)."""

from __future__ import annotations

import argparse

from google.protobuf import field_mask_pb2

from wattlane.api.identity.v1 import tenants_pb2
from wattlane.cli.output import as_json, list_flags, output_flags, print_list, resource, table
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient

T = tenants_pb2.Tenant


HEADERS = ["name", "kind", "display name", "parent", "time zone"]


def _row(t: T) -> tuple[object, ...]:
    return (t.name, T.Kind.Name(t.kind), t.display_name, t.parent or "-", t.time_zone)


def _rows(tenants: list[T]) -> str:
    return table(HEADERS, [_row(t) for t in tenants])


async def list_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    page = await client.tenants.ListTenants(
        tenants_pb2.ListTenantsRequest(
            parent=resource("tenants", args.parent) if args.parent else "",
            recursive=args.recursive,
            filter=args.filter or "",
            page_size=args.limit,
            page_token=args.page_token,
        )
    )
    print_list(args, page.tenants, page.next_page_token, HEADERS, _row)


async def show(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    tenant = await client.tenants.GetTenant(tenants_pb2.GetTenantRequest(name=resource("tenants", args.name)))
    if args.json:
        print(as_json(tenant))
        return
    print(_rows([tenant]))
    if tenant.kind == T.CUSTOMER:
        print(f"customer type: {T.CustomerType.Name(tenant.customer_type).lower()}")
    if tenant.locale:
        print(f"locale: {tenant.locale}")
    if tenant.brand.name:
        b = tenant.brand
        details = f"logo {b.logo_url or '-'}, colour {b.primary_color or '-'}, mail {b.mail_domain or '-'}"
        print(f"brand: {b.name} ({details})")


async def create(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    tenant = T(kind=T.Kind.Value(args.kind.upper()), display_name=args.display_name)
    if args.customer_type:
        tenant.customer_type = T.CustomerType.Value(args.customer_type.upper())
    if args.time_zone:
        tenant.time_zone = args.time_zone
    if args.locale:
        tenant.locale = args.locale
    if any((args.brand_name, args.brand_logo_url, args.brand_color, args.brand_mail_domain)):
        tenant.brand.CopyFrom(
            tenants_pb2.Brand(
                name=args.brand_name or "",
                logo_url=args.brand_logo_url or "",
                primary_color=args.brand_color or "",
                mail_domain=args.brand_mail_domain or "",
            )
        )
    created = await client.tenants.CreateTenant(
        tenants_pb2.CreateTenantRequest(
            parent=resource("tenants", args.parent), tenant=tenant, request_id=args.request_id or ""
        )
    )
    print(as_json(created) if args.json else _rows([created]))


async def update(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    tenant = T(name=resource("tenants", args.name))
    paths = []
    for attr, field in (("display_name", "display_name"), ("time_zone", "time_zone"), ("locale", "locale")):
        value = getattr(args, attr)
        if value is not None:
            setattr(tenant, field, value)
            paths.append(field)
    updated = await client.tenants.UpdateTenant(
        tenants_pb2.UpdateTenantRequest(tenant=tenant, update_mask=field_mask_pb2.FieldMask(paths=paths))
    )
    print(_rows([updated]))


async def delete(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    await client.tenants.DeleteTenant(tenants_pb2.DeleteTenantRequest(name=resource("tenants", args.name)))
    print(f"deleted {resource('tenants', args.name)}")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("tenants", help="the tenant tree").add_subparsers(dest="action", required=True)
    p = group.add_parser("list", help="list tenants in your scope")
    p.add_argument("--parent")
    p.add_argument("--recursive", action="store_true", help="the whole subtree under --parent")
    list_flags(p, filter_help='kind = CUSTOMER AND display_name:"acme"')
    p.set_defaults(handler=list_)
    p = group.add_parser("show", aliases=["get"], help="one tenant")
    p.add_argument("name", help="tenants/ID or ID")
    output_flags(p)
    p.set_defaults(handler=show)
    p = group.add_parser("create", help="create a partner, customer or organization")
    p.add_argument("--parent", required=True)
    p.add_argument("--kind", required=True, choices=["partner", "customer", "organization"])
    p.add_argument("--name", dest="display_name", required=True)
    p.add_argument("--customer-type", choices=["company", "private_user"])
    p.add_argument("--time-zone")
    p.add_argument("--locale")
    p.add_argument("--brand-name")
    p.add_argument("--brand-logo-url")
    p.add_argument("--brand-color")
    p.add_argument("--brand-mail-domain")
    p.add_argument("--request-id", help="idempotency key (a retry returns the first result)")
    output_flags(p)
    p.set_defaults(handler=create)
    p = group.add_parser("update")
    p.add_argument("name")
    p.add_argument("--name", dest="display_name")
    p.add_argument("--time-zone")
    p.add_argument("--locale")
    p.set_defaults(handler=update)
    p = group.add_parser("delete")
    p.add_argument("name")
    p.set_defaults(handler=delete)
