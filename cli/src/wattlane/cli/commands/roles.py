"""wattlane roles permissions | list | create | update | delete | assign | bindings | unassign."""

from __future__ import annotations

import argparse

from google.protobuf import field_mask_pb2

from wattlane.api.identity.v1 import roles_pb2
from wattlane.cli.output import as_json, output_flags, resource, set_fields, table
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient


async def permissions(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    catalog = await client.roles.ListPermissions(roles_pb2.ListPermissionsRequest())
    if args.json:
        print(as_json(list(catalog.permissions)))
        return
    print(table(["permission", "allows"], [(p.name, p.description) for p in catalog.permissions]))


async def list_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    page = await client.roles.ListRoles(
        roles_pb2.ListRolesRequest(parent=resource("tenants", args.tenant), page_size=1000)
    )
    if args.json:
        print(as_json(list(page.roles)))
        return
    print(
        table(
            ["name", "display name", "defined at", "permissions"],
            [(r.name, r.display_name, r.tenant or "built-in", len(r.permissions)) for r in page.roles],
        )
    )


async def create(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    role = await client.roles.CreateRole(
        roles_pb2.CreateRoleRequest(
            parent=resource("tenants", args.tenant),
            role=roles_pb2.Role(
                display_name=args.display_name,
                description=args.description or "",
                permissions=args.permission,
            ),
        )
    )
    print(f"created {role.name}")


async def update(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    role = roles_pb2.Role(name=resource("roles", args.name))
    paths = set_fields(role, {"display_name": args.display_name, "description": args.description})
    if args.permission is not None:
        role.permissions.extend(args.permission)
        paths.append("permissions")
    if not paths:
        raise SystemExit("update: nothing to change (give --name, --description or --permission)")
    updated = await client.roles.UpdateRole(
        roles_pb2.UpdateRoleRequest(role=role, update_mask=field_mask_pb2.FieldMask(paths=paths))
    )
    if args.json:
        print(as_json(updated))
        return
    print(f"updated {updated.name} ({', '.join(paths)}): {', '.join(updated.permissions)}")


async def delete(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    await client.roles.DeleteRole(roles_pb2.DeleteRoleRequest(name=resource("roles", args.name)))
    print(f"deleted {resource('roles', args.name)}")


async def assign(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    binding = await client.roles.CreateRoleBinding(
        roles_pb2.CreateRoleBindingRequest(
            role_binding=roles_pb2.RoleBinding(
                user=resource("users", args.user),
                role=resource("roles", args.role),
                tenant=resource("tenants", args.tenant),
                propagate=not args.no_propagate,
                allowed_resources=args.allow or [],
            )
        )
    )
    print(f"created {binding.name}")


async def bindings(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    filter_ = f'user = "{resource("users", args.user)}"' if args.user else ""
    page = await client.roles.ListRoleBindings(
        roles_pb2.ListRoleBindingsRequest(
            parent=resource("tenants", args.tenant) if args.tenant else "", filter=filter_, page_size=1000
        )
    )
    if args.json:
        print(as_json(list(page.role_bindings)))
        return
    print(
        table(
            ["name", "user", "role", "tenant", "propagate", "restricted to"],
            [
                (b.name, b.user, b.role, b.tenant, b.propagate, ", ".join(b.allowed_resources) or "-")
                for b in page.role_bindings
            ],
        )
    )


async def unassign(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    await client.roles.DeleteRoleBinding(
        roles_pb2.DeleteRoleBindingRequest(name=resource("roleBindings", args.name))
    )
    print(f"deleted {resource('roleBindings', args.name)}")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("roles", help="roles and their assignment").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("permissions", help="every permission")
    output_flags(p)
    p.set_defaults(handler=permissions)
    p = group.add_parser("list", help="roles usable at a tenant")
    p.add_argument("--tenant", required=True)
    output_flags(p)
    p.set_defaults(handler=list_)
    p = group.add_parser("create", help="a custom role at a tenant")
    p.add_argument("--tenant", required=True)
    p.add_argument("--name", dest="display_name", required=True)
    p.add_argument("--description")
    p.add_argument("--permission", action="append", required=True)
    p.set_defaults(handler=create)
    p = group.add_parser("update", help="a custom role's name, description or permissions (those given)")
    p.add_argument("name", help="roles/ID or ID")
    p.add_argument("--name", dest="display_name", help="the new name")
    p.add_argument("--description")
    p.add_argument(
        "--permission", action="append", help="the whole new permission list (repeat for each permission)"
    )
    output_flags(p)
    p.set_defaults(handler=update)
    p = group.add_parser("delete")
    p.add_argument("name")
    p.set_defaults(handler=delete)
    p = group.add_parser("assign", help="give a user a role at a tenant")
    p.add_argument("--user", required=True)
    p.add_argument("--role", required=True)
    p.add_argument("--tenant", required=True)
    p.add_argument("--no-propagate", action="store_true", help="only the tenant itself, not below it")
    p.add_argument("--allow", action="append", help="restrict to a resource, e.g. locations/ID (repeatable)")
    p.set_defaults(handler=assign)
    p = group.add_parser("bindings", help="list role assignments")
    p.add_argument("--tenant")
    p.add_argument("--user")
    output_flags(p)
    p.set_defaults(handler=bindings)
    p = group.add_parser("unassign")
    p.add_argument("name", help="roleBindings/ID")
    p.set_defaults(handler=unassign)
