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
    invoices,
    roles,
    stations,
    tariffs,
    tenants,
    transactions,
    users,
)
from wattlane.cli.session import Session, traced
from wattlane.core.clients.identity import IdentityClient
from wattlane.core.errors import field_violations


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="wattlane", description="Wattlane EV charging and energy cloud")
    sub = root.add_subparsers(dest="command", required=True)
    up.register(sub)
    for module in (account, tenants, users, roles, applications, stations, tariffs, invoices, transactions):
        module.register(sub)
    return root


def command_name(root: argparse.ArgumentParser, argv: list[str]) -> str:
    """`wattlane stations reset` for `stations reset CS-1 --hard`: the (sub)commands, never their
    arguments (a trace's root span name, low in cardinality)."""
    words, parser = ["wattlane"], root
    for token in argv:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or token not in sub.choices:
            break
        words.append(token)
        parser = sub.choices[token]
    return " ".join(words)


async def _call(args: argparse.Namespace, name: str = "wattlane") -> int:
    session = Session.load()
    if not session.token and not getattr(args, "anonymous", False):
        print("not signed in: run `wattlane login EMAIL` first", file=sys.stderr)
        return 2
    client = IdentityClient(session.identity, session.token, max_attempts=3)
    try:
        with traced(name) as trace_id:
            if trace_id:  # where to look in the tracing backend
                print(f"trace {trace_id}", file=sys.stderr)
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
    root = parser()
    words = sys.argv[1:] if argv is None else argv
    args = root.parse_args(words)
    if hasattr(args, "run"):
        sys.exit(args.run(args))
    sys.exit(asyncio.run(_call(args, command_name(root, words))))


if __name__ == "__main__":
    main()
