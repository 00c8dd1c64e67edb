"""wattlane access explain: would card X be accepted at charging point Y, and why not?"""

from __future__ import annotations

import argparse

from wattlane.api.assets.v1 import access_pb2, internal_pb2
from wattlane.cli.clients import assets_client, connected
from wattlane.cli.commands.points import POINT_HELP, point_name
from wattlane.cli.output import as_json, output_flags
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient

D = internal_pb2.AccessDecision


async def explain(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    async with connected(assets_client(session)) as assets:
        decision = await assets.access.ExplainAccess(
            access_pb2.ExplainAccessRequest(
                charging_point=await point_name(assets, args.point), id_token=args.card
            )
        )
    if args.json:
        print(as_json(decision))
        return
    status = D.Status.Name(decision.status).lower()
    payer = f", {D.Payer.Name(decision.payer).lower()} pays" if decision.status == D.ACCEPTED else ""
    print(f"card {args.card} at {decision.charging_point}: {status}{payer}")
    print(f"  why: {decision.reason or '-'}")
    if decision.card_owner:
        print(f"  card owner {decision.card_owner}, cardholder {decision.cardholder or '-'}")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("access", help="access decisions (support)").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("explain", help="would this card be accepted at this point, and why (not)?")
    p.add_argument("point", help=POINT_HELP)
    p.add_argument("card", help="the card UID / idTag the station would send")
    output_flags(p)
    p.set_defaults(handler=explain)
