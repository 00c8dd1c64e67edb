"""Settings that inherit down the tree, each level with an explicit override flag.

The rate plan reference is looked up charging point → location → organization → its ancestor
organizations; the access mode charging point → location. The first level that overrides wins;
nothing is copied down, so changing a level changes every inheriting level below it at once.
The answer says which level (and which resource) the value came from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.assets.models import ChargingPoint, Location, OrganizationSettings

DEFAULT, ORGANIZATION, LOCATION, CHARGING_POINT = "DEFAULT", "ORGANIZATION", "LOCATION", "CHARGING_POINT"
DEFAULT_ACCESS_MODE = "OPEN"


@dataclass(frozen=True)
class Level:
    """One level of a chain: whether it overrides, its value, where it is."""

    level: str
    source: str
    override: bool
    value: str


@dataclass(frozen=True)
class Effective:
    value: str
    level: str
    source: str


def resolve(chain: Iterable[Level], default: str = "") -> Effective:
    """The value of the nearest level that overrides (`chain` nearest first), else the default."""
    for level in chain:
        if level.override:
            return Effective(level.value, level.level, level.source)
    return Effective(default, DEFAULT, "")


def path_ids(path: str) -> list[str]:
    """Node ids of a tenant path, root first."""
    return [part for part in path.split("/") if part]


async def organization_levels(session: AsyncSession, owner_path: str) -> list[Level]:
    """Rate plan levels of the organization owning `owner_path` and its ancestors, nearest first."""
    ids = path_ids(owner_path)
    rows = (
        await session.execute(
            select(
                OrganizationSettings.tenant_id,
                OrganizationSettings.rate_plan,
                OrganizationSettings.rate_plan_override,
            ).where(OrganizationSettings.tenant_id.in_(ids))
        )
    ).all()
    return organization_levels_of(ids, rows)


def organization_levels_of(ids: Sequence[str], rows: Iterable[Any]) -> list[Level]:
    """Levels from settings rows (tenant_id, rate_plan, rate_plan_override) of the path `ids`."""
    by_id = {row.tenant_id: row for row in rows}
    return [
        Level(ORGANIZATION, f"tenants/{i}", by_id[i].rate_plan_override, by_id[i].rate_plan)
        for i in reversed(ids)
        if i in by_id
    ]


def rate_plan_levels(
    org_levels: Sequence[Level],
    location: Location | Any | None = None,
    point: ChargingPoint | Any | None = None,
) -> list[Level]:
    """The rate plan chain, nearest first: point, location, organizations."""
    chain = []
    if point is not None:
        chain.append(
            Level(CHARGING_POINT, f"chargingPoints/{point.id}", point.rate_plan_override, point.rate_plan)
        )
    if location is not None:
        chain.append(
            Level(LOCATION, f"locations/{location.id}", location.rate_plan_override, location.rate_plan)
        )
    return [*chain, *org_levels]


def access_mode_levels(
    location_id: str, location_mode: str, point: ChargingPoint | Any | None = None
) -> list[Level]:
    """The access mode chain, nearest first: the point, then its location. The location is the
    top of the chain: it always sets a value."""
    chain = []
    if point is not None:
        chain.append(
            Level(CHARGING_POINT, f"chargingPoints/{point.id}", point.access_mode_override, point.access_mode)
        )
    chain.append(Level(LOCATION, f"locations/{location_id}", True, location_mode or DEFAULT_ACCESS_MODE))
    return chain


async def effective(
    session: AsyncSession,
    owner_path: str,
    location: Location | None = None,
    point: ChargingPoint | None = None,
) -> tuple[Effective, Effective | None]:
    """(rate plan, access mode) in force at an organization (no access mode), location or point."""
    rate = resolve(rate_plan_levels(await organization_levels(session, owner_path), location, point))
    if location is None:
        return rate, None
    return rate, resolve(access_mode_levels(location.id, location.access_mode, point), DEFAULT_ACCESS_MODE)
