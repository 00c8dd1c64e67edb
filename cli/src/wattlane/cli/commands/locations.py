"""wattlane locations list | show | create | update | delete: the sites of organizations (assets),
with the settings they pass down (rate plan, access mode) and where each effective value came from.

`update` changes only the fields given; an address field given alone keeps the others."""

from __future__ import annotations

import argparse

from google.protobuf.field_mask_pb2 import FieldMask

from wattlane.api.assets.v1 import locations_pb2, settings_pb2
from wattlane.cli.clients import assets_client, connected
from wattlane.cli.output import (
    as_json,
    as_json_parts,
    list_flags,
    output_flags,
    print_list,
    resource,
    set_fields,
    table,
)
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient

L = locations_pb2
ACCESS_MODES = ("open", "whitelist", "roaming", "roaming_whitelist")
_ADDRESS = ("street", "postal_code", "city", "country")


def access_mode(value: settings_pb2.AccessMode.ValueType) -> str:
    return settings_pb2.AccessMode.Name(value).lower() if value else "-"


def effective_rows(effective: settings_pb2.EffectiveSettings) -> list[tuple[str, str, str, str]]:
    """setting, value, level, from: each effective value and where it came from."""
    rows = []
    for setting in ("rate_plan", "access_mode"):
        if not effective.HasField(setting):
            continue
        value: settings_pb2.EffectiveValue = getattr(effective, setting)
        level = settings_pb2.SettingLevel.Name(value.level).lower().replace("_", " ")
        rows.append(
            (setting.replace("_", " "), value.value or "-", level, value.source or "(platform default)")
        )
    return rows


def _row(x: L.Location) -> tuple[object, ...]:
    where = ", ".join(p for p in (x.address.city, x.address.country) if p) or "-"
    return (x.name, x.display_name, where, x.time_zone, access_mode(x.access_mode), x.parent)


async def list_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    async with connected(assets_client(session)) as assets:
        page = await assets.locations.ListLocations(
            L.ListLocationsRequest(
                parent=resource("tenants", args.parent) if args.parent else "",
                filter=args.filter or "",
                page_size=args.limit,
                page_token=args.page_token,
            )
        )
    headers = ["name", "display name", "city, country", "time zone", "access mode", "organization"]
    print_list(args, page.locations, page.next_page_token, headers, _row)


async def show(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    name = resource("locations", args.name)
    async with connected(assets_client(session)) as assets:
        location = await assets.locations.GetLocation(L.GetLocationRequest(name=name))
        effective = await assets.settings.GetEffectiveSettings(
            settings_pb2.GetEffectiveSettingsRequest(name=name)
        )
    if args.json:
        print(as_json_parts(location=location, effectiveSettings=effective))
        return
    a = location.address
    print(f"{location.name}: {location.display_name}, organization {location.parent}")
    print(f"  address: {', '.join(p for p in (a.street, a.postal_code, a.city, a.country) if p) or '-'}")
    print(
        f"  time zone {location.time_zone}, at {location.latitude:g}, {location.longitude:g}, "
        f"grid capacity {location.grid_capacity_w or '-'} W"
    )
    own_plan = location.rate_plan if location.rate_plan_override else "(inherited)"
    print(f"  own settings: rate plan {own_plan or '-'}, access mode {access_mode(location.access_mode)}")
    print(table(["setting", "effective value", "level", "from"], effective_rows(effective)))


def _location_from_args(args: argparse.Namespace) -> tuple[L.Location, list[str]]:
    location = L.Location()
    fields = set_fields(
        location,
        {
            "display_name": args.display_name,
            "time_zone": args.time_zone,
            "latitude": args.latitude,
            "longitude": args.longitude,
            "grid_capacity_w": args.grid_capacity_w,
            **{f"address.{f}": getattr(args, f) for f in _ADDRESS},
        },
    )
    if args.rate_plan is not None:
        location.rate_plan, location.rate_plan_override = args.rate_plan, True
        fields += ["rate_plan", "rate_plan_override"]
    if args.inherit_rate_plan:
        location.rate_plan_override = False
        fields += ["rate_plan", "rate_plan_override"]
    if args.access_mode is not None:
        location.access_mode = settings_pb2.AccessMode.Value(args.access_mode.upper())
        fields.append("access_mode")
    return location, sorted(set(fields))


async def create(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    location, _ = _location_from_args(args)
    async with connected(assets_client(session)) as assets:
        created = await assets.locations.CreateLocation(
            L.CreateLocationRequest(
                parent=resource("tenants", args.parent), location=location, request_id=args.request_id or ""
            )
        )
    print(as_json(created) if args.json else f"created {created.name}: {created.display_name}")


async def update(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    location, fields = _location_from_args(args)
    if not fields:
        raise SystemExit("update: nothing to change (give --display-name, --city, --access-mode, ...)")
    location.name = resource("locations", args.name)
    async with connected(assets_client(session)) as assets:
        if any(f.startswith("address.") for f in fields):
            # The API replaces the whole address: keep the parts not given.
            current = await assets.locations.GetLocation(L.GetLocationRequest(name=location.name))
            for part in _ADDRESS:
                if getattr(args, part) is None:
                    setattr(location.address, part, getattr(current.address, part))
            fields = sorted({"address" if f.startswith("address.") else f for f in fields})
        updated = await assets.locations.UpdateLocation(
            L.UpdateLocationRequest(
                location=location, update_mask=FieldMask(paths=fields), request_id=args.request_id or ""
            )
        )
    print(as_json(updated) if args.json else f"updated {updated.name} ({', '.join(fields)})")


async def delete(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    name = resource("locations", args.name)
    async with connected(assets_client(session)) as assets:
        await assets.locations.DeleteLocation(
            L.DeleteLocationRequest(name=name, etag=args.etag or "", request_id=args.request_id or "")
        )
    print(f"deleted {name}")


def _flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", dest="display_name", help="the location's name")
    p.add_argument("--street", help="street and number")
    p.add_argument("--postal-code")
    p.add_argument("--city")
    p.add_argument("--country", help="ISO 3166-1 alpha-2, e.g. NL")
    p.add_argument("--time-zone", help="IANA, e.g. Europe/Amsterdam (the default)")
    p.add_argument("--latitude", type=float)
    p.add_argument("--longitude", type=float)
    p.add_argument("--grid-capacity-w", type=int, help="grid connection capacity in W")
    plan = p.add_mutually_exclusive_group()
    plan.add_argument("--rate-plan", help="set the location's own rate plan: tariffs/ID")
    plan.add_argument(
        "--inherit-rate-plan", action="store_true", help="use the organization's rate plan again"
    )
    p.add_argument("--access-mode", choices=ACCESS_MODES, help="who may charge at its points")
    p.add_argument("--request-id", help="idempotency key: a retry with the same key is not applied twice")
    output_flags(p)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("locations", help="sites of organizations (assets)").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("list", help="locations in your scope")
    p.add_argument("--parent", help="one organization's (and its sub-organizations'): tenants/ID")
    list_flags(p, 'city = "Amsterdam" AND access_mode = WHITELIST')
    p.set_defaults(handler=list_)
    p = group.add_parser("show", help="one location with its effective settings and where each came from")
    p.add_argument("name", help="locations/ID or ID")
    output_flags(p)
    p.set_defaults(handler=show)
    p = group.add_parser("create", help="a location of an organization")
    p.add_argument("--parent", required=True, help="the organization: tenants/ID")
    _flags(p)
    p.set_defaults(handler=create)
    p = group.add_parser("update", help="change the fields given (and only those)")
    p.add_argument("name", help="locations/ID or ID")
    _flags(p)
    p.set_defaults(handler=update)
    p = group.add_parser("delete", help="a location without charging points")
    p.add_argument("name", help="locations/ID or ID")
    p.add_argument("--etag", help="only if unchanged since this etag (from show --output json)")
    p.add_argument("--request-id", help="idempotency key")
    p.set_defaults(handler=delete)
