"""wattlane transactions list | show | export: charging sessions as the CSMS recorded them (show:
with every meter value), with
what they cost from billing's charge records (a corrected record counts as its credit plus the
new record, so the cost shown is always the one in force).

The CSMS and billing addresses are those stored by `wattlane login` (WATTLANE_CSMS_ADDRESS and
WATTLANE_BILLING_ADDRESS override them). A transaction not
yet recorded by billing (still running, or its handoff waiting) shows no cost; when billing
cannot be reached the costs are left empty and a warning says so."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from wattlane.api.billing.v1 import charge_records_pb2, tariffs_pb2
from wattlane.api.csms.v1 import transactions_pb2
from wattlane.cli.clients import billing_client, csms_client
from wattlane.cli.output import as_json, output_flags, resource, table
from wattlane.cli.session import Session
from wattlane.core.clients.billing import BillingClient
from wattlane.core.clients.identity import IdentityClient

T = transactions_pb2
R = charge_records_pb2
# Transactions per ListChargeRecords call (an OR filter; the filter is at most 2,000 characters).
_PER_CALL = 40
COST_COLUMNS = ("currency", "cost_excl_vat", "cost_incl_vat", "charge_record")


@dataclass(frozen=True)
class Cost:
    """A transaction's cost in force: the sum of its records (a credit negates a corrected one)."""

    currency: str
    excl_vat: Decimal
    incl_vat: Decimal | None  # None when a record had no VAT rate
    charge_record: str  # the latest DEBIT

    def cells(self) -> tuple[str, str, str, str]:
        incl = "" if self.incl_vat is None else str(self.incl_vat)
        return (self.currency, str(self.excl_vat), incl, self.charge_record)


def costs_of(records: Iterable[R.ChargeRecord]) -> dict[str, Cost]:
    """Transaction name → its cost, from all its records (any order)."""
    grouped: dict[str, list[R.ChargeRecord]] = {}
    for record in records:
        grouped.setdefault(record.transaction, []).append(record)
    costs = {}
    for transaction, group in grouped.items():
        ordered = sorted(group, key=lambda r: (r.create_time.seconds, r.create_time.nanos))
        excl = sum((Decimal(r.total_cost.excl_vat or "0") for r in ordered), Decimal(0))
        incl: Decimal | None = Decimal(0)
        for r in ordered:
            incl = (
                None if incl is None or not r.total_cost.incl_vat else incl + Decimal(r.total_cost.incl_vat)
            )
        debits = [r.name for r in ordered if r.kind == R.ChargeRecord.DEBIT]
        costs[transaction] = Cost(ordered[-1].currency, excl, incl, debits[-1] if debits else "")
    return costs


async def lookup_costs(billing: BillingClient, names: Sequence[str]) -> dict[str, Cost] | None:
    """The costs of these transactions (those billing has recorded); None when billing cannot
    be asked (not running, not reachable), after a warning on stderr."""
    records: list[R.ChargeRecord] = []
    try:
        for i in range(0, len(names), _PER_CALL):
            chunk = names[i : i + _PER_CALL]
            query = " OR ".join(f'transaction = "{n}"' for n in chunk)
            token = ""
            while True:
                page = await billing.charge_records.ListChargeRecords(
                    R.ListChargeRecordsRequest(filter=query, page_size=1000, page_token=token)
                )
                records.extend(page.charge_records)
                token = page.next_page_token
                if not token:
                    break
    except grpc.aio.AioRpcError as error:
        if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNIMPLEMENTED):
            raise
        print(f"warning: no costs: billing did not answer ({error.code().name})", file=sys.stderr)
        return None
    return costs_of(records)


def _time(value: Timestamp) -> str:
    return value.ToDatetime().strftime("%Y-%m-%d %H:%M:%S") if value.seconds else "-"


def _kwh(transaction: T.Transaction) -> str:
    return f"{transaction.energy_wh / 1000:.3f}" if transaction.HasField("energy_wh") else "-"


def _cost(cost: Cost | None) -> str:
    if cost is None:
        return "-"
    incl = "" if cost.incl_vat is None else f" ({cost.incl_vat} incl. VAT)"
    return f"{cost.excl_vat} {cost.currency}{incl}"


async def list_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    csms, billing = csms_client(session), billing_client(session)
    try:
        page = await csms.transactions.ListTransactions(
            T.ListTransactionsRequest(
                parent=resource("tenants", args.parent) if args.parent else "",
                filter=args.filter or "",
                page_size=args.limit,
            )
        )
        transactions = list(page.transactions)
        costs = await lookup_costs(billing, [t.name for t in transactions]) or {}
    finally:
        await csms.close()
        await billing.close()
    if args.json:
        print(as_json(transactions))
        return
    rows = [
        (
            t.name.removeprefix("transactions/"),
            t.station.removeprefix("stations/"),
            T.Transaction.State.Name(t.state).lower(),
            _time(t.start_time),
            _time(t.stop_time),
            _kwh(t),
            t.payer or "-",
            t.rate_plan or "-",
            _cost(costs.get(t.name)),
        )
        for t in transactions
    ]
    headers = ["id", "station", "state", "start (UTC)", "stop (UTC)", "kWh", "payer", "tariff", "cost"]
    print(table(headers, rows))
    if page.next_page_token:
        print(f"(more: narrow with --filter or raise --limit, now {args.limit})")


def meter_rows(transaction: T.Transaction) -> list[tuple[str, str, str, str, str]]:
    """The transaction's meter values, one row each (`-` where a quantity was not sampled)."""

    def value(m: T.MeterValue, field: str) -> str:
        return f"{getattr(m, field):g}" if m.HasField(field) else "-"  # type: ignore[arg-type]

    return [
        (
            _time(m.time),
            value(m, "energy_wh"),
            value(m, "power_w"),
            value(m, "current_a"),
            value(m, "soc_percent"),
        )
        for m in transaction.meter_values
    ]


async def show(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    csms, billing = csms_client(session), billing_client(session)
    name = resource("transactions", args.transaction)
    try:
        transaction = await csms.transactions.GetTransaction(T.GetTransactionRequest(name=name, view=T.FULL))
        records: list[R.ChargeRecord] = []
        try:
            found = await billing.charge_records.ListChargeRecords(
                R.ListChargeRecordsRequest(filter=f'transaction = "{name}"', page_size=100)
            )
            records = list(found.charge_records)
        except grpc.aio.AioRpcError as error:
            if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNIMPLEMENTED):
                raise
            print(f"warning: no costs: billing did not answer ({error.code().name})", file=sys.stderr)
    finally:
        await csms.close()
        await billing.close()
    if args.json:
        print(as_json([transaction, *records]))
        return
    t = transaction
    print(
        f"{t.name}: {T.Transaction.State.Name(t.state).lower()} at {t.station} "
        f"(evse {t.evse_id}, connector {t.connector_id}, {t.protocol})"
    )
    print(
        f"  {_time(t.start_time)} -> {_time(t.stop_time)} UTC ({t.time_zone or 'zone unknown'}), "
        f"{_kwh(t)} kWh"
    )
    print(
        f"  token {t.id_token or '-'} ({t.authorization_status}), payer {t.payer or '-'}, "
        f"card {t.card or '-'}"
    )
    print(f"  owner {t.owner or '-'}, location {t.location or '-'}, tariff {t.rate_plan or '-'}")
    if t.meter_values:
        print(table(["meter value (UTC)", "energy Wh", "power W", "current A", "SoC %"], meter_rows(t)))
    if t.charging_states:
        changes = ", ".join(
            f"{_time(s.time)} {'charging' if s.charging else 'parked'}" for s in t.charging_states
        )
        print(f"  charging/parked: {changes}")
    if not records:
        print("  cost: - (no charge record yet)")
        return
    print(f"  cost: {_cost(costs_of(records).get(t.name))}")
    rows = [
        (
            r.name,
            R.ChargeRecord.Kind.Name(r.kind).lower(),
            f"{r.tariff.name or '-'} v{r.tariff.version}" if r.tariff.name else "-",
            r.total_cost.excl_vat,
            r.total_cost.incl_vat or "-",
            r.currency,
            _time(r.create_time),
        )
        for r in records
    ]
    print(
        table(["charge record", "kind", "tariff", "excl. VAT", "incl. VAT", "currency", "sealed (UTC)"], rows)
    )
    for record in [r for r in records if r.kind == R.ChargeRecord.DEBIT][-1:]:  # the one in force
        periods = [
            (
                _time(p.start_time),
                "charging" if p.charging else "parked",
                tariffs_pb2.Dimension.Name(d.type).lower(),
                d.quantity,
                d.cost.excl_vat,
                d.cost.incl_vat or "-",
            )
            for p in record.priced.periods
            for d in p.dimensions
        ]
        headers = ["period start (UTC)", "state", "dimension", "quantity", "excl. VAT", "incl. VAT"]
        print(table(headers, periods))


def with_costs(rows: Sequence[list[str]], costs: dict[str, Cost] | None, *, header: bool) -> str:
    """CSMS CSV rows (the header first when `header`) with the cost columns appended."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for i, row in enumerate(rows):
        if header and i == 0:
            writer.writerow([*row, *COST_COLUMNS])
            continue
        cost = (costs or {}).get(row[0])
        writer.writerow([*row, *(cost.cells() if cost else ("", "", "", ""))])
    return out.getvalue()


async def export(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    csms, billing = csms_client(session), billing_client(session)
    # A CLI writing its own output file: blocking writes are what it is for.
    target = open(args.output, "w", newline="") if args.output else sys.stdout  # noqa: SIM115, ASYNC230
    try:
        request = T.ExportTransactionsRequest(
            parent=resource("tenants", args.parent) if args.parent else "", filter=args.filter or ""
        )
        header, billing_up = True, True
        # The CSMS sends whole lines per chunk (one chunk per 1,000 transactions): each chunk's
        # costs are asked for in one go, so a year of transactions never sits in memory.
        async for part in csms.transactions.ExportTransactions(request):
            rows = list(csv.reader(io.StringIO(part.csv.decode())))
            names = [row[0] for row in rows[1 if header else 0 :]]
            costs = await lookup_costs(billing, names) if billing_up and names else None
            billing_up = billing_up and (costs is not None or not names)
            target.write(with_costs(rows, costs, header=header))
            header = False
    finally:
        await csms.close()
        await billing.close()
        if target is not sys.stdout:
            target.close()


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("transactions", help="charging sessions with their cost (CSMS and billing)")
    s = p.add_subparsers(dest="sub", required=True)
    ls = s.add_parser("list", help="visible transactions, newest first, with their cost")
    ls.add_argument(
        "--parent", help="a tenant's and its subtree's: tenants/ID (at their stations or with their cards)"
    )
    ls.add_argument("--filter", help='e.g. station = "stations/ACME-AMS-01" AND payer = "cardholder"')
    ls.add_argument("--limit", type=int, default=50, help="at most this many (default 50, max 1000)")
    output_flags(ls)
    ls.set_defaults(handler=list_)
    sh = s.add_parser("show", help="one transaction: meter, charging/parked changes, charge records")
    sh.add_argument("transaction", help="transactions/ID or ID")
    output_flags(sh)
    sh.set_defaults(handler=show)
    ex = s.add_parser("export", help="CSV of visible transactions with cost columns")
    ex.add_argument("--parent", help="a tenant's and its subtree's: tenants/ID")
    ex.add_argument("--filter", help="as for list")
    ex.add_argument("--output", "-o", help="write to this file instead of stdout")
    ex.set_defaults(handler=export)
