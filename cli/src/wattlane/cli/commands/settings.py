"""wattlane settings show | set: asset settings that inherit down the tree (the rate plan:
organization → location → charging point; the access mode: location → charging point), with the
level each effective value came from. A location's or point's own settings are set with
`wattlane locations update` / `wattlane points update` (--rate-plan, --inherit-rate-plan, ...)."""

from __future__ import annotations

import argparse

from google.protobuf.field_mask_pb2 import FieldMask

from wattlane.api.assets.v1 import settings_pb2
from wattlane.cli.clients import assets_client, connected
from wattlane.cli.commands.locations import effective_rows
from wattlane.cli.output import as_json, as_json_parts, output_flags, resource, table
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient

S = settings_pb2
COLLECTIONS = ("tenants", "locations", "chargingPoints")


def _settings_name(organization: str) -> str:
    return resource("tenants", organization.removesuffix("/assetSettings")) + "/assetSettings"


async def show(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    name = args.name if args.name.split("/", 1)[0] in COLLECTIONS else resource("tenants", args.name)
    async with connected(assets_client(session)) as assets:
        effective = await assets.settings.GetEffectiveSettings(S.GetEffectiveSettingsRequest(name=name))
        own = (
            await assets.settings.GetOrganizationSettings(
                S.GetOrganizationSettingsRequest(name=_settings_name(name))
            )
            if name.startswith("tenants/")
            else None
        )
    if args.json:
        print(
            as_json_parts(effectiveSettings=effective, organizationSettings=own)
            if own is not None
            else as_json(effective)
        )
        return
    print(f"{effective.name}:")
    if own is not None:
        plan = own.rate_plan if own.rate_plan_override else "(inherited from the parent organization)"
        print(f"  own rate plan: {plan or '-'}")
    print(table(["setting", "effective value", "level", "from"], effective_rows(effective)))


async def set_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    settings = S.OrganizationSettings(name=_settings_name(args.organization))
    if args.rate_plan is not None:
        settings.rate_plan, settings.rate_plan_override = args.rate_plan, True
    elif not args.inherit_rate_plan:
        raise SystemExit("set: give --rate-plan tariffs/ID or --inherit-rate-plan")
    async with connected(assets_client(session)) as assets:
        updated = await assets.settings.UpdateOrganizationSettings(
            S.UpdateOrganizationSettingsRequest(
                settings=settings,
                update_mask=FieldMask(paths=["rate_plan", "rate_plan_override"]),
                request_id=args.request_id or "",
            )
        )
    if args.json:
        print(as_json(updated))
        return
    plan = updated.rate_plan if updated.rate_plan_override else "inherited"
    print(f"{updated.name}: rate plan {plan or '-'}")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser(
        "settings", help="inherited asset settings (rate plan, access mode) and where each came from"
    ).add_subparsers(dest="action", required=True)
    p = group.add_parser("show", help="the effective settings of an organization, location or point")
    p.add_argument("name", help="tenants/ID, locations/ID or chargingPoints/ID")
    output_flags(p)
    p.set_defaults(handler=show)
    p = group.add_parser("set", help="an organization's own rate plan (or inherit its parent's)")
    p.add_argument("organization", help="tenants/ID")
    plan = p.add_mutually_exclusive_group()
    plan.add_argument("--rate-plan", help="tariffs/ID")
    plan.add_argument("--inherit-rate-plan", action="store_true", help="use the parent organization's")
    p.add_argument("--request-id", help="idempotency key")
    output_flags(p)
    p.set_defaults(handler=set_)
