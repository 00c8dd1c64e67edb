"""Locations: sites of organizations. Every function works inside the caller's transaction
and scope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.assets import rules
from wattlane.assets.models import ChargingPoint, Location
from wattlane.core import validation
from wattlane.core.clients.directory import Owner
from wattlane.core.clock import utcnow
from wattlane.core.errors import Aborted, FailedPrecondition, NotFound, PermissionDenied
from wattlane.core.ids import new_id
from wattlane.core.paging import Page
from wattlane.core.scope import PATH_END, EffectiveScope

UPDATABLE = (
    "display_name",
    "address",
    "time_zone",
    "latitude",
    "longitude",
    "grid_capacity_w",
    "rate_plan",
    "rate_plan_override",
    "access_mode",
)
ALLOW_COLUMNS = {"locations": Location.id}


def location_name(location_id: str) -> str:
    """`locations/{id}`."""
    return f"locations/{location_id}"


async def get_in_scope(
    session: AsyncSession,
    scope: EffectiveScope,
    location_id: str,
    permission: str,
    *,
    for_update: bool = False,
) -> Location:
    """The live location if the caller holds `permission` on it; NOT_FOUND if invisible."""
    query = select(Location).where(Location.id == location_id, Location.delete_time.is_(None))
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    name = location_name(location_id)
    if row is None:
        raise NotFound(name)
    scope.require(permission, row.owner_path, name)
    return row


def check_etag(version: int, etag: str, name: str) -> None:
    """ABORTED when `etag` is set and no longer the row's version."""
    if etag and etag != str(version):
        raise Aborted(
            f"{name} was changed by someone else (etag {etag} is stale); read it again",
            reason="ETAG_MISMATCH",
        )


def _apply(row: Location, changes: Mapping[str, Any]) -> None:
    """Validate and set `changes` (field -> value; `address` maps to a dict)."""
    if "display_name" in changes:
        row.display_name = validation.text(changes["display_name"], "location.display_name")
    if "address" in changes:
        address = changes["address"]
        row.street = validation.text(address["street"], "location.address.street", required=False)
        row.postal_code = validation.text(
            address["postal_code"], "location.address.postal_code", max_length=20, required=False
        )
        row.city = validation.text(address["city"], "location.address.city", max_length=100, required=False)
        row.country = (
            validation.country(address["country"], "location.address.country") if address["country"] else ""
        )
    if "time_zone" in changes:
        row.time_zone = validation.time_zone(changes["time_zone"] or "Europe/Amsterdam", "location.time_zone")
    if "latitude" in changes:
        row.latitude = rules.coordinate(changes["latitude"], "location.latitude", 90)
    if "longitude" in changes:
        row.longitude = rules.coordinate(changes["longitude"], "location.longitude", 180)
    if "grid_capacity_w" in changes:
        row.grid_capacity_w = rules.power(changes["grid_capacity_w"], "location.grid_capacity_w")
    if "rate_plan" in changes:
        row.rate_plan = rules.rate_plan(changes["rate_plan"], "location.rate_plan")
    if "rate_plan_override" in changes:
        row.rate_plan_override = bool(changes["rate_plan_override"])
    if "access_mode" in changes:
        row.access_mode = rules.access_mode(changes["access_mode"] or "OPEN", "location.access_mode")


async def create(
    session: AsyncSession, scope: EffectiveScope, owner: Owner, fields: Mapping[str, Any]
) -> Location:
    """A location under an organization (`locations.manage` there)."""
    scope.require("locations.manage", owner.path, owner.name)
    if owner.kind != "ORGANIZATION":
        raise FailedPrecondition(
            f"locations belong to organizations; {owner.name} is a {owner.kind.lower()}",
            reason="NOT_AN_ORGANIZATION",
        )
    location_id = new_id()
    # A member restricted to chosen locations may not add new ones.
    if not scope.can("locations.manage", owner.path, [location_name(location_id)]):
        raise PermissionDenied("locations.manage", owner.name)
    row = Location(
        id=location_id,
        owner_id=owner.tenant_id,
        owner_path=owner.path,
        time_zone="Europe/Amsterdam",
        access_mode="OPEN",
        version=1,
    )
    _apply(row, {"display_name": "", **fields})
    session.add(row)
    await session.flush()
    return row


async def update(
    session: AsyncSession, scope: EffectiveScope, location_id: str, changes: Mapping[str, Any], etag: str = ""
) -> Location:
    """Apply validated changes (`locations.manage`), checking the etag."""
    row = await get_in_scope(session, scope, location_id, "locations.manage", for_update=True)
    check_etag(row.version, etag, location_name(location_id))
    _apply(row, changes)
    row.version += 1
    row.update_time = utcnow()
    await session.flush()
    return row


async def delete(session: AsyncSession, scope: EffectiveScope, location_id: str, etag: str = "") -> Location:
    """Soft-delete a location that has no charging points left."""
    row = await get_in_scope(session, scope, location_id, "locations.manage", for_update=True)
    check_etag(row.version, etag, location_name(location_id))
    points = await session.scalar(
        select(func.count())
        .select_from(ChargingPoint)
        .where(ChargingPoint.location_id == row.id, ChargingPoint.delete_time.is_(None))
    )
    if points:
        raise FailedPrecondition(
            f"{location_name(location_id)} still has {points} charging point(s); remove them first",
            reason="LOCATION_HAS_CHARGING_POINTS",
        )
    row.delete_time = utcnow()
    row.version += 1
    await session.flush()
    return row


async def list_in_scope(
    session: AsyncSession,
    scope: EffectiveScope,
    *,
    parent_path: str | None,
    where: ColumnElement[bool],
    page: Page,
) -> list[Location]:
    """Locations the caller may read, under `parent_path` when given, oldest first."""
    if not scope.grants_for("locations.read"):
        raise PermissionDenied("locations.read")
    query = select(Location).where(
        Location.delete_time.is_(None),
        scope.filter("locations.read", Location.owner_path, ALLOW_COLUMNS),
        where,
    )
    if parent_path is not None:
        query = query.where(Location.owner_path >= parent_path, Location.owner_path < parent_path + PATH_END)
    return list((await session.execute(page.window(query, [Location.id]))).scalars())
