"""Request builders the assets tests share."""

from __future__ import annotations

import itertools
import secrets

from google.protobuf import field_mask_pb2

from wattlane.api.assets.v1 import cards_pb2, locations_pb2
from wattlane.api.assets.v1 import charging_points_pb2 as cp_pb2
from wattlane.core.clients.assets import AssetsClient

CP = cp_pb2.ChargingPoint
_n = itertools.count()


def identity() -> str:
    """A fresh OCPP identity (platform-wide unique)."""
    return f"CP-{next(_n)}-{secrets.token_hex(4)}"


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


async def location(client: AssetsClient, org: str, **fields: object) -> locations_pb2.Location:
    values: dict[str, object] = {"display_name": f"Site {next(_n)}", **fields}
    return await client.locations.CreateLocation(
        locations_pb2.CreateLocationRequest(parent=org, location=locations_pb2.Location(**values))  # type: ignore[arg-type]
    )


async def point(client: AssetsClient, location_name: str, **fields: object) -> CP:
    values: dict[str, object] = {"ocpp_identity": identity(), "current_type": CP.AC, **fields}
    return await client.charging_points.CreateChargingPoint(
        cp_pb2.CreateChargingPointRequest(parent=location_name, charging_point=CP(**values))  # type: ignore[arg-type]
    )


async def card(client: AssetsClient, parent: str, uid: str, **fields: object) -> cards_pb2.Card:
    """A private card of `users/{id}` or a public card of `tenants/{customer}`."""
    return await client.cards.CreateCard(
        cards_pb2.CreateCardRequest(parent=parent, card=cards_pb2.Card(uid=uid, **fields))  # type: ignore[arg-type]
    )


def uid() -> str:
    """A fresh card UID."""
    return secrets.token_hex(7).upper()
