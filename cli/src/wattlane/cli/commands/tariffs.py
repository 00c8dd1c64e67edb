"""wattlane tariffs list | show | create | update | price: billing's tariffs, their immutable
versions, and what a session would cost ("22 kWh from 17:40 to 21:10 on a Sunday").

A simple tariff is given with flags (--energy 0.30 per kWh, --flat 1.00 per session, --time and
--parking per hour, --vat 21); any OCPI-shaped tariff (restrictions, several elements) with
--file tariff.json (the API's Tariff as JSON). The billing address is the one stored by
`wattlane login` (WATTLANE_BILLING_ADDRESS overrides it)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from google.protobuf import json_format
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from wattlane.api.billing.v1 import tariffs_pb2
from wattlane.cli.clients import billing_client
from wattlane.cli.output import as_json, money, output_flags, resource, table
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient

T = tariffs_pb2
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _time(value: Timestamp) -> str:
    return value.ToDatetime().strftime("%Y-%m-%d %H:%M") if value.seconds else "-"


def _purpose(value: int) -> str:
    return "home-reimbursement" if value == T.HOME_REIMBURSEMENT else "charging"


def _prices(tariff: T.Tariff) -> str:
    """A one-line summary of the price components (per element, restricted ones marked)."""
    parts = []
    for element in tariff.elements:
        units = {T.ENERGY: "/kWh", T.FLAT: "/session", T.TIME: "/h", T.PARKING_TIME: "/h parked"}
        text = " + ".join(f"{c.price}{units.get(c.type, '')}" for c in element.price_components)
        if element.HasField("restrictions") and element.restrictions.ListFields():
            text += " (restricted)"
        parts.append(text)
    return "; ".join(parts)


async def list_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    billing = billing_client(session)
    tariffs: list[T.Tariff] = []
    token = ""
    try:
        while True:
            page = await billing.tariffs.ListTariffs(
                T.ListTariffsRequest(
                    parent=resource("tenants", args.parent) if args.parent else "",
                    filter=args.filter or "",
                    page_size=500,
                    page_token=token,
                )
            )
            tariffs.extend(page.tariffs)
            token = page.next_page_token
            if not token:
                break
    finally:
        await billing.close()
    if args.json:
        print(as_json(tariffs))
        return
    rows = [
        (t.name, t.display_name, _purpose(t.purpose), t.currency, t.version, _prices(t), t.parent)
        for t in tariffs
    ]
    print(table(["name", "display name", "purpose", "currency", "version", "prices", "owner"], rows))


async def show(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    billing = billing_client(session)
    name = resource("tariffs", args.name)
    try:
        tariff = await billing.tariffs.GetTariff(T.GetTariffRequest(name=name, version=args.version or 0))
        versions = (
            (
                await billing.tariffs.ListTariffVersions(T.ListTariffVersionsRequest(name=name, page_size=50))
            ).versions
            if args.versions
            else []
        )
    finally:
        await billing.close()
    if args.json:
        print(as_json(tariff))
        return
    print(
        f"{tariff.name}: {tariff.display_name} ({_purpose(tariff.purpose)}, {tariff.currency}), "
        f"owner {tariff.parent}"
    )
    print(f"  version {tariff.version}, in force from {_time(tariff.effective_from)} UTC")
    for k, element in enumerate(tariff.elements):
        print(f"  element {k}:")
        for c in element.price_components:
            vat = f", VAT {c.vat}%" if c.HasField("vat") else ""
            step = f", step {c.step_size}" if c.type != T.FLAT else ""
            print(f"    {T.Dimension.Name(c.type)} {c.price}{vat}{step}")
        if element.HasField("restrictions") and element.restrictions.ListFields():
            restrictions = json_format.MessageToDict(element.restrictions, preserving_proto_field_name=True)
            print(f"    when {json.dumps(restrictions, separators=(',', ':'))}")
    if versions:
        print(
            table(
                ["version", "in force from (UTC)", "display name", "prices"],
                [(v.version, _time(v.effective_from), v.display_name, _prices(v)) for v in versions],
            )
        )


def _component(dimension: int, price: str, args: argparse.Namespace) -> T.PriceComponent:
    component = T.PriceComponent(type=dimension, price=price, step_size=0 if dimension == T.FLAT else 1)  # type: ignore[arg-type]
    if args.vat is not None:
        component.vat = args.vat
    return component


def _tariff_from_args(args: argparse.Namespace) -> tuple[T.Tariff, list[str]]:
    """The tariff the flags describe and the fields they set (the update mask)."""
    if args.file:
        tariff = json_format.Parse(Path(args.file).read_text(), T.Tariff())
        fields = [f.name for f, _ in tariff.ListFields() if f.name not in ("name", "parent")]
    else:
        tariff, fields = T.Tariff(), []
        components = [
            _component(dimension, price, args)
            for dimension, price in (
                (T.ENERGY, args.energy),
                (T.FLAT, args.flat),
                (T.TIME, args.time),
                (T.PARKING_TIME, args.parking),
            )
            if price is not None
        ]
        if components:
            tariff.elements.append(T.TariffElement(price_components=components))
            fields.append("elements")
    if args.display_name is not None:
        tariff.display_name = args.display_name
        fields.append("display_name")
    if args.currency is not None:
        tariff.currency = args.currency.upper()
        fields.append("currency")
    if args.effective_from:
        tariff.effective_from.FromDatetime(_aware(args.effective_from, "UTC"))
        fields.append("effective_from")
    return tariff, sorted(set(fields))


async def create(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    tariff, _ = _tariff_from_args(args)
    if args.purpose == "home-reimbursement":
        tariff.purpose = T.HOME_REIMBURSEMENT
    billing = billing_client(session)
    try:
        created = await billing.tariffs.CreateTariff(
            T.CreateTariffRequest(parent=resource("tenants", args.parent), tariff=tariff)
        )
    finally:
        await billing.close()
    print(as_json(created) if args.json else f"{created.name} version {created.version}: {_prices(created)}")


async def update(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    tariff, fields = _tariff_from_args(args)
    if not fields:
        raise SystemExit("update: nothing to change (give --energy, --file, --display-name, ...)")
    tariff.name = resource("tariffs", args.name)
    billing = billing_client(session)
    try:
        updated = await billing.tariffs.UpdateTariff(
            T.UpdateTariffRequest(tariff=tariff, update_mask=FieldMask(paths=fields))
        )
    finally:
        await billing.close()
    print(
        as_json(updated)
        if args.json
        else f"{updated.name} version {updated.version} in force from {_time(updated.effective_from)} UTC: "
        f"{_prices(updated)}"
    )


def _aware(text: str, zone: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(zone))


def session_window(
    start: str, stop: str, zone: str, on: str | None, today: dt.date
) -> tuple[dt.datetime, dt.datetime]:
    """The instants of a session given as local times: `start` is "YYYY-MM-DD HH:MM" (or ISO
    with an offset) or "HH:MM" on the day `on` names (the next such day from `today`, today
    included) or today; `stop` likewise, and a bare "HH:MM" before the start is the next day."""
    tz = ZoneInfo(zone)
    if on is not None:
        day = today + dt.timedelta(days=(DAYS.index(on) - today.weekday()) % 7)
    else:
        day = today

    def local(text: str, base: dt.date) -> dt.datetime:
        if len(text) <= 5 and ":" in text:
            hours, minutes = (int(p) for p in text.split(":"))
            return dt.datetime.combine(base, dt.time(hours, minutes), tzinfo=tz)
        return _aware(text, zone)

    begin = local(start, day)
    end = local(stop, begin.date())
    if end <= begin and len(stop) <= 5:
        end = local(stop, begin.date() + dt.timedelta(days=1))
    return begin, end


async def price(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    begin, end = session_window(args.start, args.stop, args.time_zone, args.on, dt.date.today())
    request = T.PreviewPriceRequest(
        tariff=resource("tariffs", args.name),
        time_zone=args.time_zone,
        energy_wh=round(args.energy_kwh * 1000),
        version=args.version or 0,
    )
    request.start_time.FromDatetime(begin.astimezone(dt.UTC))
    request.stop_time.FromDatetime(end.astimezone(dt.UTC))
    billing = billing_client(session)
    try:
        priced = await billing.tariffs.PreviewPrice(request)
    finally:
        await billing.close()
    if args.json:
        print(as_json(priced))
        return
    zone = ZoneInfo(args.time_zone)

    def local(value: Timestamp) -> str:
        return value.ToDatetime(tzinfo=dt.UTC).astimezone(zone).strftime("%a %Y-%m-%d %H:%M")

    print(
        f"{args.energy_kwh:g} kWh from {begin.strftime('%a %Y-%m-%d %H:%M')} to {end.strftime('%H:%M')} "
        f"({args.time_zone}) with {priced.tariff} version {priced.tariff_version}:"
    )
    rows = []
    for p in priced.periods:
        for d in p.dimensions:
            if d.element < 0 and d.type != T.ENERGY:
                continue  # unpriced time: nothing to show
            rows.append(
                (
                    local(p.start_time),
                    local(p.end_time),
                    T.Dimension.Name(d.type),
                    d.billed_quantity,
                    "-" if d.element < 0 else d.element,
                    d.cost.excl_vat,
                )
            )
    print(table(["from", "to", "dimension", "billed (Wh / s)", "element", "cost excl. VAT"], rows))
    print("totals:")
    print(
        table(
            ["dimension", "quantity", "billed", "VAT %", "cost excl. VAT", "cost incl. VAT"],
            [
                (
                    T.Dimension.Name(d.type),
                    d.quantity,
                    d.billed_quantity,
                    d.vat or "-",
                    d.cost.excl_vat,
                    d.cost.incl_vat or "-",
                )
                for d in priced.totals
            ],
        )
    )
    total = priced.total_cost
    incl = money(total.incl_vat, priced.currency) if total.incl_vat else "unknown (no VAT rate)"
    limit = f" (limited by {priced.limited_by})" if priced.limited_by else ""
    excl = money(total.excl_vat, priced.currency)
    exact = f"exact: {total.excl_vat} / {total.incl_vat or '-'}"
    print(f"total: {excl} {priced.currency} excl. VAT, {incl} incl. VAT{limit} ({exact})")


def _tariff_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--display-name", help="the tariff's name")
    p.add_argument("--currency", help="ISO 4217, e.g. EUR")
    p.add_argument("--energy", help="price per kWh excl. VAT, e.g. 0.30")
    p.add_argument("--flat", help="price per session excl. VAT")
    p.add_argument("--time", help="price per hour charging excl. VAT")
    p.add_argument("--parking", help="price per hour parked excl. VAT")
    p.add_argument("--vat", help="VAT rate in percent for every component, e.g. 21")
    p.add_argument(
        "--file", help="the whole tariff as JSON (the API's Tariff), for restrictions and elements"
    )
    p.add_argument(
        "--effective-from", help="when it comes into force (ISO time, default now; never in the past)"
    )
    output_flags(p)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("tariffs", help="tariffs (versioned) and what a session costs").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("list", help="tariffs in your scope, each in its version in force now")
    p.add_argument("--parent", help="only this tenant's (tenants/ID) and below")
    p.add_argument("--filter", help='e.g. currency = "EUR" AND purpose = CHARGING')
    output_flags(p)
    p.set_defaults(handler=list_)
    p = group.add_parser("show", help="one tariff: its elements, and with --versions its history")
    p.add_argument("name", help="tariffs/ID or ID")
    p.add_argument("--version", type=int, help="this version (default: the one in force now)")
    p.add_argument("--versions", action="store_true", help="list every version")
    output_flags(p)
    p.set_defaults(handler=show)
    p = group.add_parser("create", help="a new tariff (version 1) owned by a tenant")
    p.add_argument("--parent", required=True, help="the owning tenant, tenants/ID")
    p.add_argument(
        "--purpose", choices=["charging", "home-reimbursement"], default="charging", help="what it is for"
    )
    _tariff_flags(p)
    p.set_defaults(handler=create)
    p = group.add_parser("update", help="a new version of a tariff (the flags given change)")
    p.add_argument("name", help="tariffs/ID or ID")
    _tariff_flags(p)
    p.set_defaults(handler=update)
    p = group.add_parser("price", help='what a session would cost: "22 kWh from 17:40 to 21:10 on a Sunday"')
    p.add_argument("name", help="tariffs/ID or ID")
    p.add_argument("--energy-kwh", type=float, required=True, help="energy charged, kWh")
    p.add_argument("--start", required=True, help='local start: "HH:MM" or "YYYY-MM-DD HH:MM"')
    p.add_argument("--stop", required=True, help='local stop: "HH:MM" (the next day when before the start)')
    p.add_argument("--on", choices=DAYS, help="the day of a bare HH:MM start (the next such day)")
    p.add_argument("--time-zone", default="Europe/Amsterdam", help="the location's IANA time zone")
    p.add_argument(
        "--version", type=int, help="price with this version (default: the one in force at the start)"
    )
    output_flags(p)
    p.set_defaults(handler=price)
