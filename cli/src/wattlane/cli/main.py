"""Entry point of the `wattlane` command."""

from __future__ import annotations

import argparse
import asyncio
import sys

import grpc
from google.protobuf import json_format

from wattlane.cli import up
from wattlane.cli.commands import (
    access,
    account,
    applications,
    cards,
    completion,
    employees,
    firmware,
    invoices,
    locations,
    points,
    roles,
    settings,
    settlements,
    stations,
    tariffs,
    tenants,
    transactions,
    users,
)
from wattlane.cli.examples import EXAMPLES, add_examples
from wattlane.cli.session import Session, traced
from wattlane.core.clients.identity import IdentityClient
from wattlane.core.errors import field_violations

# Exit codes (stated in `wattlane --help`).
OK, REFUSED, USAGE, UNREACHABLE = 0, 1, 2, 3
EXIT_CODES = f"""exit codes:
  {OK}  done
  {REFUSED}  the service refused the request (its status, message and the field are printed)
  {USAGE}  wrong usage, not signed in, or a station did not accept a remote action
  {UNREACHABLE}  a service could not be reached (is the stack running? see `wattlane login --help`)"""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="wattlane",
        description="Wattlane EV charging and energy cloud",
        epilog=f"examples:\n{EXAMPLES['']}\n\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = root.add_subparsers(dest="command", required=True)
    up.register(sub)
    for module in (
        account,
        tenants,
        users,
        employees,
        roles,
        applications,
        locations,
        points,
        cards,
        settings,
        access,
        stations,
        firmware,
        tariffs,
        invoices,
        settlements,
        transactions,
        completion,
    ):
        module.register(sub)
    add_examples(root)
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
    session = (
        Session.for_stack(args.base_port) if getattr(args, "stack_from_flags", False) else Session.load()
    )
    if not session.token and not getattr(args, "anonymous", False):
        print("not signed in: run `wattlane login EMAIL` first", file=sys.stderr)
        return USAGE
    client = IdentityClient(session.identity, session.token, max_attempts=3)
    try:
        with traced(name) as trace_id:
            if trace_id:  # where to look in the tracing backend
                print(f"trace {trace_id}", file=sys.stderr)
            await args.handler(args, client, session)
        return OK
    except grpc.aio.AioRpcError as error:
        print(f"error: {error.code().name}: {error.details()}", file=sys.stderr)
        for violation in field_violations(error):
            print(f"  {violation.field}: {violation.description}", file=sys.stderr)
        if error.code() == grpc.StatusCode.UNAUTHENTICATED and not getattr(args, "anonymous", False):
            print("sign in again with `wattlane login EMAIL`", file=sys.stderr)
        if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            where = ", ".join(f"{k} {v}" for k, v in session.addresses().items())
            print(f"  (the session's services: {where})", file=sys.stderr)
            return UNREACHABLE
        return REFUSED
    except SystemExit as stop:
        if not isinstance(stop.code, str):
            raise
        print(f"error: {stop.code}", file=sys.stderr)  # a usage error the command found
        return USAGE
    except (OSError, ValueError, json_format.ParseError) as error:
        # A file that cannot be read, a value that does not parse: a message, not a traceback.
        print(f"error: {error}", file=sys.stderr)
        return USAGE
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
