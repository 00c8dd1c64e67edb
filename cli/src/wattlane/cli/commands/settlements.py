"""wattlane settlements run | status: the monthly settlement of an issuer, by hand.

`run` starts the issuer's `MonthlySettlement` for a month with its deterministic workflow id and
waits for it (`--no-wait`: only start it). It is idempotent: a run already going is joined, a
month settled before is run again and makes nothing new (billing invoices each payer's month
once). `status` says whether the month's run is going, done or failed, and what it made.

These commands talk to Temporal (WATTLANE_TEMPORAL_ADDRESS, default 127.0.0.1:7233), as the
worker's schedule does: an operator's tool. `--time-zone` and `--vat-country` must be the
issuer's (as in the worker's WATTLANE_WORKER_SETTLEMENT_ISSUERS): the zone decides where the
month ends."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import zoneinfo
from collections.abc import Awaitable, Callable
from typing import NoReturn

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import FailureError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from wattlane.cli.output import output_flags, table
from wattlane.cli.session import Session
from wattlane.contracts.settlement import TASK_QUEUE, WORKFLOW, SettlementInput, SettlementResult, workflow_id
from wattlane.core.clients.identity import IdentityClient

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
REFUSED, UNREACHABLE = 1, 3  # the exit codes `wattlane --help` states


def temporal_address() -> str:
    return os.environ.get("WATTLANE_TEMPORAL_ADDRESS", "127.0.0.1:7233")


def _checked(args: argparse.Namespace) -> tuple[str, str]:
    issuer = args.issuer if args.issuer.startswith("tenants/") else f"tenants/{args.issuer}"
    if not MONTH.match(args.month):
        raise SystemExit(f"--month wants YYYY-MM, got {args.month!r}")
    if getattr(args, "time_zone", None) is not None:
        try:
            zoneinfo.ZoneInfo(args.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SystemExit(
                f"--time-zone wants an IANA zone like Europe/Brussels, got {args.time_zone!r}"
            ) from None
    return issuer, args.month


async def _temporal() -> Client:
    """The Temporal client; exit 3 (unreachable) with the address when it cannot connect."""
    try:
        return await Client.connect(temporal_address())
    except RuntimeError as error:
        print(f"error: Temporal at {temporal_address()} cannot be reached ({error})", file=sys.stderr)
        print("  (set WATTLANE_TEMPORAL_ADDRESS)", file=sys.stderr)
        raise SystemExit(UNREACHABLE) from None


def _failed(error: WorkflowFailureError) -> SystemExit:
    """A run that failed (billing refused it: a bad issuer, say): its reason, exit 1."""
    cause = error.cause
    while cause.__cause__ is not None and isinstance(cause.__cause__, FailureError):
        cause = cause.__cause__
    print(f"error: the settlement failed: {cause}", file=sys.stderr)
    return SystemExit(REFUSED)


def _report(
    args: argparse.Namespace, issuer: str, month: str, status: str, result: SettlementResult | None
) -> None:
    row: dict[str, object] = {
        "workflow": workflow_id(issuer, month),
        "issuer": issuer,
        "month": month,
        "status": status,
    }
    if result is not None:
        row |= {k: v for k, v in dataclasses.asdict(result).items() if k != "month"}
    if args.json:
        print(json.dumps(row, indent=2))
        return
    print(table(list(row), [[str(v) for v in row.values()]]))


def _exit_now(code: int) -> NoReturn:
    """Exit without the interpreter's finalization, output flushed: the Temporal SDK's core
    threads may crash it (SIGSEGV, sdk-python#300) once the command is done."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


async def _then_exit(command: Callable[[], Awaitable[None]]) -> NoReturn:
    """Run a command that uses Temporal and exit with its code (0, or what it raised)."""
    try:
        await command()
    except SystemExit as stop:
        _exit_now(stop.code if isinstance(stop.code, int) else REFUSED)
    except Exception as error:  # Temporal refused: its message, not a traceback
        print(f"error: {error}", file=sys.stderr)
        _exit_now(REFUSED)
    _exit_now(0)


async def run(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    issuer, month = _checked(args)  # usage errors before Temporal is touched
    await _then_exit(lambda: _run(args, issuer, month))


async def status(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    issuer, month = _checked(args)
    await _then_exit(lambda: _status(args, issuer, month))


async def _run(args: argparse.Namespace, issuer: str, month: str) -> None:
    temporal = await _temporal()
    input = SettlementInput(issuer, month, args.time_zone, args.vat_country)
    handle: WorkflowHandle[object, SettlementResult]
    try:
        handle = await temporal.start_workflow(
            WORKFLOW,
            input,
            id=workflow_id(issuer, month),
            task_queue=args.task_queue,
            result_type=SettlementResult,
        )
    except WorkflowAlreadyStartedError:  # running now: join it
        handle = temporal.get_workflow_handle(workflow_id(issuer, month), result_type=SettlementResult)
    if not args.wait:
        _report(args, issuer, month, "running", None)
        return
    try:
        result = await handle.result()
    except WorkflowFailureError as error:
        raise _failed(error) from None
    _report(args, issuer, month, "completed", result)


async def _status(args: argparse.Namespace, issuer: str, month: str) -> None:
    temporal = await _temporal()
    handle = temporal.get_workflow_handle(workflow_id(issuer, month), result_type=SettlementResult)
    try:
        described = await handle.describe()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        _report(args, issuer, month, "never run", None)
        return
    state = described.status or WorkflowExecutionStatus.RUNNING
    result = await handle.result() if state == WorkflowExecutionStatus.COMPLETED else None
    _report(args, issuer, month, state.name.lower(), result)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("settlements", help="the monthly settlement, by hand").add_subparsers(
        dest="action", required=True
    )
    for action, text, handler in (
        ("run", "settle an issuer's month (idempotent)", run),
        ("status", "whether an issuer's month is settled, and what it made", status),
    ):
        p = group.add_parser(action, help=text)
        p.add_argument("--issuer", required=True, help="tenants/ID of the operator or partner issuing")
        p.add_argument("--month", required=True, help="YYYY-MM")
        if action == "run":
            p.add_argument("--time-zone", default="Europe/Amsterdam", help="the issuer's IANA zone")
            p.add_argument("--vat-country", default="NL", help="the VAT the lines carry (ISO 3166)")
            p.add_argument("--task-queue", default=TASK_QUEUE, help="the worker's billing queue")
            p.add_argument("--no-wait", dest="wait", action="store_false", help="only start it")
        output_flags(p)
        p.set_defaults(handler=handler)
