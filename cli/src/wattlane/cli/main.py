"""Entry point of the `wattlane` command."""

from __future__ import annotations

import argparse
import asyncio
import sys

import grpc

from wattlane.cli import up
from wattlane.cli.commands import (
    account,
    applications,
    roles,
    stations,
    tariffs,
    tenants,
    transactions,
    users,
)
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient
from wattlane.core.errors import field_violations


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="wattlane", description="Wattlane EV charging and energy cloud")
    sub = root.add_subparsers(dest="command", required=True)
    up.register(sub)
    for module in (account, tenants, users, roles, applications, stations, tariffs, transactions):
        module.register(sub)
    return root


async def _call(args: argparse.Namespace) -> int:
    session = Session.load()
    if not session.token and not getattr(args, "anonymous", False):
        print("not signed in: run `wattlane login EMAIL` first", file=sys.stderr)
        return 2
    client = IdentityClient(session.identity, session.token, max_attempts=3)
    try:
        await args.handler(args, client, session)
        return 0
    except grpc.aio.AioRpcError as error:
        print(f"error: {error.code().name}: {error.details()}", file=sys.stderr)
        for violation in field_violations(error):
            print(f"  {violation.field}: {violation.description}", file=sys.stderr)
        if error.code() == grpc.StatusCode.UNAUTHENTICATED and not getattr(args, "anonymous", False):
            print("sign in again with `wattlane login EMAIL`", file=sys.stderr)
        return 1
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if hasattr(args, "run"):
        sys.exit(args.run(args))
    sys.exit(asyncio.run(_call(args)))


if __name__ == "__main__":
    main()
