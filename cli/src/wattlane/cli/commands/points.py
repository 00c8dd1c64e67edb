"""wattlane points list | show | create | update | delete | rotate-key, and
wattlane connectors list | create | delete: charging points (one OCPP endpoint each) in assets.

A point is created `--onboarding pre-approved` (the identity is reserved before the station is
energized; it is recognized when it connects) or `--onboarding connected` (the station was already
trying to connect and this confirms it). `rotate-key` sets a new OCPP AuthorizationKey and shows
it once. `update` changes only the fields given."""

from __future__ import annotations

import argparse
import json

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from wattlane.api.assets.v1 import charging_points_pb2, settings_pb2
from wattlane.cli.clients import assets_client, connected
from wattlane.cli.commands.locations import ACCESS_MODES, effective_rows
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
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.clients.identity import IdentityClient

P = charging_points_pb2
CP = P.ChargingPoint
POINT_HELP = "chargingPoints/ID, ID, or the station's OCPP identity"
CONNECTOR_TYPES = ("type_2", "ccs2", "chademo", "type_1", "ccs1", "domestic")


async def point_name(assets: AssetsClient, value: str) -> str:
    """`chargingPoints/ID` for `chargingPoints/ID`, a bare ID, or the station's OCPP identity (what
    support knows, e.g. ACME-AMS-01)."""
    if value.startswith("chargingPoints/"):
        return value
    found = await assets.charging_points.ListChargingPoints(
        P.ListChargingPointsRequest(filter=f"ocpp_identity = {json.dumps(value)}", page_size=2)
    )
    if len(found.charging_points) == 1:
        return found.charging_points[0].name
    return resource("chargingPoints", value)


def _time(value: Timestamp) -> str:
    return value.ToDatetime().strftime("%Y-%m-%d %H:%M:%S") if value.seconds else "-"


def _row(c: CP) -> tuple[object, ...]:
    return (
        c.name,
        c.ocpp_identity,
        c.alias or "-",
        CP.CurrentType.Name(c.current_type),
        c.max_power_w or "-",
        CP.Onboarding.Name(c.onboarding).lower().replace("_", "-"),
        "yes" if c.charging_enabled else "no",
        c.location,
    )


async def list_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    parent = ""
    if args.location:
        parent = resource("locations", args.location)
    elif args.parent:
        parent = resource("tenants", args.parent)
    async with connected(assets_client(session)) as assets:
        page = await assets.charging_points.ListChargingPoints(
            P.ListChargingPointsRequest(
                parent=parent, filter=args.filter or "", page_size=args.limit, page_token=args.page_token
            )
        )
    headers = ["name", "ocpp identity", "alias", "current", "max W", "onboarding", "charging", "location"]
    print_list(args, page.charging_points, page.next_page_token, headers, _row)


async def show(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    async with connected(assets_client(session)) as assets:
        name = await point_name(assets, args.name)
        point = await assets.charging_points.GetChargingPoint(P.GetChargingPointRequest(name=name))
        connectors = await assets.charging_points.ListConnectors(
            P.ListConnectorsRequest(parent=name, page_size=1000)
        )
        effective = await assets.settings.GetEffectiveSettings(
            settings_pb2.GetEffectiveSettingsRequest(name=name)
        )
    if args.json:
        print(
            as_json_parts(chargingPoint=point, connectors=connectors.connectors, effectiveSettings=effective)
        )
        return
    c = point
    print(f"{c.name}: {c.ocpp_identity} ({c.alias or 'no alias'}) at {c.location}, owner {c.owner}")
    print(
        f"  {c.vendor or '-'} {c.model or '-'}, serial {c.serial_number or '-'}, "
        f"{CP.CurrentType.Name(c.current_type)} {c.max_power_w or '-'} W, OCPP {c.ocpp_version}"
    )
    print(
        f"  onboarding {CP.Onboarding.Name(c.onboarding).lower().replace('_', '-')}, first seen "
        f"{_time(c.first_seen_time)}, charging {'enabled' if c.charging_enabled else 'disabled'}, "
        f"{'public' if c.public else 'private'}"
    )
    key = "set" if c.has_authorization_key else "none"
    print(f"  authorization key {key}, certificate subject {c.certificate_subject or '-'}")
    if c.public and c.max_price_per_kwh:
        print(f"  maximum price {c.max_price_per_kwh} (minor units of {c.currency}) per kWh")
    print(table(["setting", "effective value", "level", "from"], effective_rows(effective)))
    print(
        table(
            ["connector", "evse", "id", "type", "max W"], [_connector_row(x) for x in connectors.connectors]
        )
    )


def _point_from_args(args: argparse.Namespace) -> tuple[CP, list[str]]:
    point = CP()
    fields = set_fields(
        point,
        {
            "alias": args.alias,
            "vendor": args.vendor,
            "model": args.model,
            "serial_number": args.serial_number,
            "max_power_w": args.max_power_w,
            "ocpp_version": args.ocpp_version,
            "public": args.public,
            "charging_enabled": args.charging_enabled,
            "max_price_per_kwh": args.max_price_per_kwh,
            "currency": args.currency,
            "certificate_subject": args.certificate_subject,
        },
    )
    if args.rate_plan is not None:
        point.rate_plan, point.rate_plan_override = args.rate_plan, True
        fields += ["rate_plan", "rate_plan_override"]
    if args.inherit_rate_plan:
        fields += ["rate_plan", "rate_plan_override"]
    if args.access_mode is not None:
        point.access_mode = settings_pb2.AccessMode.Value(args.access_mode.upper())
        point.access_mode_override = True
        fields += ["access_mode", "access_mode_override"]
    if args.inherit_access_mode:
        fields += ["access_mode", "access_mode_override"]
    return point, sorted(set(fields))


async def create(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    point, _ = _point_from_args(args)
    point.location = resource("locations", args.location)
    point.ocpp_identity = args.ocpp_identity
    point.current_type = CP.CurrentType.Value(args.current_type.upper())
    point.onboarding = CP.Onboarding.Value(args.onboarding.upper().replace("-", "_"))
    async with connected(assets_client(session)) as assets:
        created = await assets.charging_points.CreateChargingPoint(
            P.CreateChargingPointRequest(
                parent=point.location, charging_point=point, request_id=args.request_id or ""
            )
        )
    print(as_json(created) if args.json else f"created {created.name}: {created.ocpp_identity}")


async def update(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    point, fields = _point_from_args(args)
    if not fields:
        raise SystemExit("update: nothing to change (give --alias, --max-power-w, --access-mode, ...)")
    async with connected(assets_client(session)) as assets:
        point.name = await point_name(assets, args.name)
        updated = await assets.charging_points.UpdateChargingPoint(
            P.UpdateChargingPointRequest(
                charging_point=point, update_mask=FieldMask(paths=fields), request_id=args.request_id or ""
            )
        )
    print(as_json(updated) if args.json else f"updated {updated.name} ({', '.join(fields)})")


async def delete(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    async with connected(assets_client(session)) as assets:
        name = await point_name(assets, args.name)
        await assets.charging_points.DeleteChargingPoint(
            P.DeleteChargingPointRequest(name=name, etag=args.etag or "", request_id=args.request_id or "")
        )
    print(f"deleted {name}")


async def rotate_key(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    async with connected(assets_client(session)) as assets:
        name = await point_name(assets, args.name)
        rotated = await assets.charging_points.RotateAuthorizationKey(
            P.RotateAuthorizationKeyRequest(name=name, request_id=args.request_id or "")
        )
    if args.json:
        print(as_json(rotated))
        return
    print(f"new authorization key of {name} (shown only now): {rotated.authorization_key}")
    print(f"  credential version {rotated.charging_point.credential_version}")


# -- connectors ---------------------------------------------------------------------------------


def _connector_row(x: P.Connector) -> tuple[object, ...]:
    return (x.name, x.evse_id, x.connector_id, P.Connector.Type.Name(x.type), x.max_power_w or "-")


async def connectors_list(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    async with connected(assets_client(session)) as assets:
        page = await assets.charging_points.ListConnectors(
            P.ListConnectorsRequest(
                parent=await point_name(assets, args.point),
                page_size=args.limit,
                page_token=args.page_token,
            )
        )
    print_list(
        args, page.connectors, page.next_page_token, ["name", "evse", "id", "type", "max W"], _connector_row
    )


async def connectors_create(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    connector = P.Connector(
        evse_id=args.evse,
        connector_id=args.connector,
        type=P.Connector.Type.Value(args.type.upper()),
        max_power_w=args.max_power_w or 0,
    )
    async with connected(assets_client(session)) as assets:
        created = await assets.charging_points.CreateConnector(
            P.CreateConnectorRequest(
                parent=await point_name(assets, args.point),
                connector=connector,
                request_id=args.request_id or "",
            )
        )
    print(as_json(created) if args.json else f"created {created.name} on {created.charging_point}")


async def connectors_delete(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    name = resource("connectors", args.name)
    async with connected(assets_client(session)) as assets:
        await assets.charging_points.DeleteConnector(
            P.DeleteConnectorRequest(name=name, request_id=args.request_id or "")
        )
    print(f"deleted {name}")


def _flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alias", help="the name shown to users")
    p.add_argument("--vendor")
    p.add_argument("--model")
    p.add_argument("--serial-number")
    p.add_argument("--max-power-w", type=int, help="maximum power in W")
    p.add_argument("--ocpp-version", choices=("1.6", "2.0.1"))
    p.add_argument("--public", action=argparse.BooleanOptionalAction, help="a public (roaming) point")
    p.add_argument(
        "--charging-enabled",
        action=argparse.BooleanOptionalAction,
        help="activate charging (takes a license)",
    )
    p.add_argument("--max-price-per-kwh", type=int, help="public points: in minor units of --currency")
    p.add_argument("--currency", help="ISO 4217 of --max-price-per-kwh")
    p.add_argument("--certificate-subject", help="expected client-certificate CN (security profile 3)")
    plan = p.add_mutually_exclusive_group()
    plan.add_argument("--rate-plan", help="the point's own rate plan: tariffs/ID")
    plan.add_argument("--inherit-rate-plan", action="store_true", help="use the location's again")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--access-mode", choices=ACCESS_MODES, help="the point's own access mode")
    mode.add_argument("--inherit-access-mode", action="store_true", help="use the location's again")
    p.add_argument("--request-id", help="idempotency key: a retry with the same key is not applied twice")
    output_flags(p)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser(
        "points", help="charging points (assets): onboarding, settings, keys"
    ).add_subparsers(dest="action", required=True)
    p = group.add_parser("list", help="charging points in your scope")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--location", help="one location's: locations/ID")
    where.add_argument("--parent", help="one organization's (and below): tenants/ID")
    list_flags(p, "current_type = DC AND charging_enabled = true")
    p.set_defaults(handler=list_)
    p = group.add_parser("show", help="one point: details, connectors, effective settings and their level")
    p.add_argument("name", help=POINT_HELP)
    output_flags(p)
    p.set_defaults(handler=show)
    p = group.add_parser("create", help="add a charging point to a location")
    p.add_argument("--location", required=True, help="locations/ID")
    p.add_argument("--ocpp-identity", required=True, help="the station's OCPP identity (unique)")
    p.add_argument("--current-type", required=True, choices=("ac", "dc"))
    p.add_argument(
        "--onboarding",
        choices=("pre-approved", "connected"),
        default="pre-approved",
        help="pre-approved: reserve the identity before the station connects (default); "
        "connected: confirm a station already trying to connect",
    )
    _flags(p)
    p.set_defaults(handler=create)
    p = group.add_parser("update", help="change the fields given (and only those)")
    p.add_argument("name", help=POINT_HELP)
    _flags(p)
    p.set_defaults(handler=update)
    p = group.add_parser("delete", help="remove a charging point")
    p.add_argument("name", help=POINT_HELP)
    p.add_argument("--etag", help="only if unchanged since this etag")
    p.add_argument("--request-id", help="idempotency key")
    p.set_defaults(handler=delete)
    p = group.add_parser("rotate-key", help="set a new OCPP AuthorizationKey (shown once)")
    p.add_argument("name", help=POINT_HELP)
    p.add_argument("--request-id", help="idempotency key")
    output_flags(p)
    p.set_defaults(handler=rotate_key)

    group = sub.add_parser("connectors", help="connectors (plugs) of charging points").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("list", help="a charging point's connectors")
    p.add_argument("point", help=POINT_HELP)
    list_flags(p)
    p.set_defaults(handler=connectors_list)
    p = group.add_parser("create", help="add a connector to a charging point")
    p.add_argument("point", help=POINT_HELP)
    p.add_argument("--evse", type=int, default=1, help="OCPP EVSE id (default 1)")
    p.add_argument("--connector", type=int, default=1, help="connector id within the EVSE (default 1)")
    p.add_argument("--type", required=True, choices=CONNECTOR_TYPES, help="plug type")
    p.add_argument("--max-power-w", type=int)
    p.add_argument("--request-id", help="idempotency key")
    output_flags(p)
    p.set_defaults(handler=connectors_create)
    p = group.add_parser("delete", help="remove a connector")
    p.add_argument("name", help="connectors/ID or ID")
    p.add_argument("--request-id", help="idempotency key")
    p.set_defaults(handler=connectors_delete)
