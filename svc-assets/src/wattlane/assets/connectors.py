"""Connectors (EVSE plugs) of charging points; they follow their point's scope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.assets import charging_points, rules
from wattlane.assets.models import ChargingPoint, Connector
from wattlane.core.clock import utcnow
from wattlane.core.errors import AlreadyExists, InvalidArgument, NotFound
from wattlane.core.ids import new_id
from wattlane.core.paging import Page
from wattlane.core.scope import EffectiveScope

TYPES = ("TYPE_2", "CCS2", "CHADEMO", "TYPE_1", "CCS1", "DOMESTIC")
MAX_ID = 1000


def connector_name(connector_id: str) -> str:
    """`connectors/{id}`."""
    return f"connectors/{connector_id}"


async def create(
    session: AsyncSession, scope: EffectiveScope, point_id: str, fields: Mapping[str, Any]
) -> Connector:
    """A connector on a charging point (`stations.manage`); its EVSE and connector ids are unique on the
    point."""
    point = await charging_points.get_in_scope(session, scope, point_id, "stations.manage")
    evse_id, connector_id = fields["evse_id"], fields["connector_id"]
    for field, value in (("evse_id", evse_id), ("connector_id", connector_id)):
        if not 1 <= value <= MAX_ID:
            raise InvalidArgument.field(f"connector.{field}", f"must be between 1 and {MAX_ID}")
    if fields["type"] not in TYPES:
        raise InvalidArgument.field("connector.type", f"is required: one of {', '.join(TYPES)}")
    power = rules.power(fields["max_power_w"], "connector.max_power_w")
    if point.max_power_w and power > point.max_power_w:
        raise InvalidArgument.field(
            "connector.max_power_w", f"must not exceed the charging point's {point.max_power_w} W"
        )
    taken = await session.scalar(
        select(
            exists().where(
                Connector.charging_point_id == point.id,
                Connector.evse_id == evse_id,
                Connector.connector_id == connector_id,
            )
        )
    )
    if taken:
        raise AlreadyExists(f"EVSE {evse_id} connector {connector_id} already exists on this charging point")
    row = Connector(
        id=new_id(),
        charging_point_id=point.id,
        location_id=point.location_id,
        owner_path=point.owner_path,
        evse_id=evse_id,
        connector_id=connector_id,
        type=fields["type"],
        max_power_w=power,
        create_time=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def get_in_scope(
    session: AsyncSession, scope: EffectiveScope, connector_id: str, permission: str
) -> tuple[Connector, ChargingPoint]:
    """A connector and its charging point, scoped like the point (NOT_FOUND names the connector)."""
    row = await session.get(Connector, connector_id)
    if row is None:
        raise NotFound(connector_name(connector_id))
    try:
        point = await charging_points.get_in_scope(session, scope, row.charging_point_id, permission)
    except NotFound:
        raise NotFound(connector_name(connector_id)) from None
    return row, point


async def list_of_point(
    session: AsyncSession, scope: EffectiveScope, point_id: str, page: Page
) -> list[Connector]:
    """A charging point's connectors by EVSE and connector id (`stations.read`)."""
    await charging_points.get_in_scope(session, scope, point_id, "stations.read")
    query = select(Connector).where(Connector.charging_point_id == point_id)
    return list(
        (await session.execute(page.window(query, [Connector.evse_id, Connector.connector_id]))).scalars()
    )
