"""wattlane users list | get | create | invite | accept | disable | enable | delete."""

from __future__ import annotations

import argparse
import getpass

from google.protobuf import field_mask_pb2

from wattlane.api.identity.v1 import users_pb2
from wattlane.cli.output import as_json, list_flags, output_flags, print_list, resource, table
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient

U = users_pb2.User


HEADERS = ["name", "email", "display name", "state", "tenant"]


def _row(u: U) -> tuple[object, ...]:
    return (u.name, u.email, u.display_name, U.State.Name(u.state), u.tenant)


def _rows(users: list[U]) -> str:
    return table(HEADERS, [_row(u) for u in users])


async def list_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    page = await client.users.ListUsers(
        users_pb2.ListUsersRequest(
            parent=resource("tenants", args.parent) if args.parent else "",
            recursive=args.recursive,
            filter=args.filter or "",
            page_size=args.limit,
            page_token=args.page_token,
        )
    )
    print_list(args, page.users, page.next_page_token, HEADERS, _row)


async def show(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    user = await client.users.GetUser(users_pb2.GetUserRequest(name=resource("users", args.name)))
    if args.json:
        print(as_json(user))
        return
    print(_rows([user]))
    if user.locale:
        print(f"locale: {user.locale}")


async def create(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    tenant = resource("tenants", args.tenant)
    # The roles go with the user in one request: a refused role creates nothing.
    user = await client.users.CreateUser(
        users_pb2.CreateUserRequest(
            parent=tenant,
            user=U(email=args.email, display_name=args.display_name, locale=args.locale or ""),
            roles=[resource("roles", role) for role in args.role or []],
        )
    )
    invitation = await client.users.CreateInvitation(users_pb2.CreateInvitationRequest(user=user.name))
    print(_rows([user]))
    print(f"\ninvitation token (one-time): {invitation.token}")
    print(f"  accept with: wattlane users accept {invitation.token}")


async def invite(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    name = resource("users", args.name)
    if args.mail:
        await client.users.SendInvitation(users_pb2.SendInvitationRequest(user=name))
        print(f"an invitation mail to {name} is on its way")
        return
    invitation = await client.users.CreateInvitation(users_pb2.CreateInvitationRequest(user=name))
    print(f"invitation token (one-time): {invitation.token}")


async def forgot_password(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    await client.users.RequestPasswordReset(users_pb2.RequestPasswordResetRequest(email=args.email))
    print(f"if {args.email} has an account, a reset link is on its way")


async def reset_password(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    password = args.password or getpass.getpass("New password (10+ characters): ")
    await client.users.ResetPassword(users_pb2.ResetPasswordRequest(token=args.token, new_password=password))
    print("password changed; sign in with: wattlane login EMAIL")


async def accept(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    password = args.password or getpass.getpass("Choose a password (10+ characters): ")
    user = await client.users.AcceptInvitation(
        users_pb2.AcceptInvitationRequest(token=args.token, password=password)
    )
    print(f"{user.email} is active; sign in with: wattlane login {user.email}")


async def _set_state(client: IdentityClient, name: str, state: int) -> None:
    user = await client.users.UpdateUser(
        users_pb2.UpdateUserRequest(
            user=U(name=resource("users", name), state=state),  # type: ignore[arg-type]
            update_mask=field_mask_pb2.FieldMask(paths=["state"]),
        )
    )
    print(_rows([user]))


async def disable(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    await _set_state(client, args.name, U.DISABLED)


async def enable(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    await _set_state(client, args.name, U.ACTIVE)


async def delete(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    await client.users.DeleteUser(users_pb2.DeleteUserRequest(name=resource("users", args.name)))
    print(f"removed {resource('users', args.name)}; their access has ended")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("users", help="people").add_subparsers(dest="action", required=True)
    p = group.add_parser("list")
    p.add_argument("--parent", help="tenant")
    p.add_argument("--recursive", action="store_true")
    list_flags(p, filter_help='state = ACTIVE AND email = "*@acme.example"')
    p.set_defaults(handler=list_)
    p = group.add_parser("show", aliases=["get"], help="one user")
    p.add_argument("name", help="users/ID, ID or me")
    output_flags(p)
    p.set_defaults(handler=show)
    p = group.add_parser("create", help="create (invite) a user, optionally with roles at its tenant")
    p.add_argument("--tenant", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--name", dest="display_name", required=True)
    p.add_argument("--locale")
    p.add_argument("--role", action="append", help="role id, e.g. organization-member (repeatable)")
    p.set_defaults(handler=create)
    p = group.add_parser("invite", help="issue a fresh invitation token (or mail it with --mail)")
    p.add_argument("name")
    p.add_argument("--mail", action="store_true", help="mail the invitation link instead of printing it")
    p.set_defaults(handler=invite)
    p = group.add_parser("forgot-password", help="mail yourself a password reset link")
    p.add_argument("email")
    p.set_defaults(handler=forgot_password, anonymous=True)
    p = group.add_parser("reset-password", help="set a new password with the token from the reset mail")
    p.add_argument("token")
    p.add_argument("--password")
    p.set_defaults(handler=reset_password, anonymous=True)
    p = group.add_parser("accept", help="accept an invitation and set a password")
    p.add_argument("token")
    p.add_argument("--password")
    p.set_defaults(handler=accept, anonymous=True)
    for name, handler in (("disable", disable), ("enable", enable), ("delete", delete)):
        p = group.add_parser(name)
        p.add_argument("name")
        p.set_defaults(handler=handler)
