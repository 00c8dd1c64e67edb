"""wattlane login | logout | whoami."""

from __future__ import annotations

import argparse
import getpass

from wattlane.api.identity.v1 import auth_pb2, users_pb2
from wattlane.cli.output import table
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient


async def login(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    """Sign in at the identity of the stack the flags and environment name, and store every
    service address of that stack with the token (later commands talk to that stack only)."""
    password = args.password or getpass.getpass(f"Password for {args.email}: ")
    await client.login(args.email, password)
    session.token, session.email = client.token, args.email
    path = session.save()
    print(f"Signed in as {args.email} (session in {path})")
    print(table(["service", "address"], sorted(session.addresses().items())))


async def logout(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    if session.token:
        await client.auth.Logout(auth_pb2.LogoutRequest())
    session.clear()
    print("Signed out")


async def whoami(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    me = await client.users.GetUser(users_pb2.GetUserRequest(name="users/me"))
    scope = await client.auth.GetEffectiveScope(auth_pb2.GetEffectiveScopeRequest())
    print(f"{me.display_name} <{me.email}>  {me.name}  tenant {me.tenant}")
    rows = [(p.permission, "; ".join(_where(g) for g in p.grants)) for p in scope.permissions]
    print(table(["permission", "where (path, * = and below; only = just those resources there)"], rows))


def _where(grant: auth_pb2.ScopeGrant) -> str:
    """One grant: its path, `*` when it covers the subtree, and the allow-list restricting it
    (a restricted member holds it only for those locations and charging points)."""
    where = grant.path + ("*" if grant.subtree else "")
    if grant.allowed_resources:
        where += " only " + ", ".join(grant.allowed_resources)
    return where


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "login",
        help="sign in and keep the session (with every service address of the stack)",
        description="Sign in and store the token with the address of every service of the stack: "
        "the standard ports of `wattlane up`, or those of `wattlane up --base-port N` with "
        "--base-port N; WATTLANE_IDENTITY_ADDRESS, WATTLANE_ASSETS_ADDRESS, WATTLANE_BILLING_ADDRESS "
        "and WATTLANE_CSMS_ADDRESS override single services (then and for later commands).",
    )
    p.add_argument("email")
    p.add_argument("--password", help="(prompted when omitted)")
    p.add_argument(
        "--base-port", type=int, help="the stack of `wattlane up --base-port N` (default: the standard ports)"
    )
    p.set_defaults(handler=login, anonymous=True, stack_from_flags=True)
    sub.add_parser("logout", help="revoke the session's token").set_defaults(handler=logout)
    sub.add_parser("whoami", help="who you are and what you may do where").set_defaults(handler=whoami)
