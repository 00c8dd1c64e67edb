"""Local authorization lists: the cards a charging point may accept offline (OCPP SendLocalList).

Under WHITELIST and ROAMING_WHITELIST the list holds every card whitelisted at the point — the
same rule as `access.judge`: a card or its holder on the whitelist of the point's organization
or an ancestor, or a public card of the point's customer added as *whitelist* — each with the
status a decision would give it now (a blocked or expired card is listed as such, so the station
refuses it offline too). Under OPEN and ROAMING nothing is listed: those decisions need the
platform (roaming cards pay), so the station asks online. Nor at a point without its feature
license (charging not enabled): it accepts no card at all."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select

from wattlane.assets import inheritance
from wattlane.assets.access import (
    _CARD,
    _ORG_SETTINGS,
    _POINT_BY,
    _WL,
    AccessStatus,
    PointContext,
    PointRow,
    SettingsRow,
    judge,
)
from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.errors import InvalidArgument, NotFound

DEFAULT_MAX_ENTRIES = 10_000
WHITELIST_MODES = ("WHITELIST", "ROAMING_WHITELIST")


@dataclass(frozen=True, slots=True)
class LocalAuthorization:
    """One card on a local list."""

    id_token: str  # the card UID, as stored
    status: AccessStatus  # what a decision would say now: ACCEPTED, BLOCKED or EXPIRED
    expire_time: dt.datetime | None  # the card's end of validity, when it has one


@dataclass(frozen=True, slots=True)
class LocalAuthorizationList:
    """The local authorization list of a charging point."""

    charging_point: str  # `chargingPoints/{id}`
    access_mode: str  # in force at the point
    entries: tuple[LocalAuthorization, ...] = ()  # by UID
    truncated: bool = False  # more cards qualify than the list may hold


def _whitelisted(ids: list[str], customer_path: str) -> Select[Any]:
    """Live cards whitelisted at a point of the organizations `ids` under `customer_path`."""
    on_list = exists().where(
        _WL.c.organization_id.in_(ids),
        or_(
            _WL.c.card_id == _CARD.c.id, and_(_WL.c.user_id.is_not(None), _WL.c.user_id == _CARD.c.holder_id)
        ),
    )
    own_public = and_(
        _CARD.c.kind == "PUBLIC", _CARD.c.customer_path == customer_path, _CARD.c.public_mode == "WHITELIST"
    )
    return (
        select(
            _CARD.c.uid,
            _CARD.c.blocked,
            _CARD.c.valid_from,
            _CARD.c.valid_to,
            _CARD.c.kind,
            _CARD.c.customer_path,
            _CARD.c.public_mode,
        )
        .where(_CARD.c.delete_time.is_(None), or_(on_list, own_public))
        .order_by(_CARD.c.uid)
    )


async def local_authorizations(
    db: Database, identity: str, max_entries: int, *, now: dt.datetime | None = None
) -> LocalAuthorizationList:
    """The list for the point with OCPP `identity` (NotFound: no such point)."""
    if max_entries < 0:
        raise InvalidArgument.field("max_entries", "must not be negative")
    limit = max_entries or DEFAULT_MAX_ENTRIES
    now = now or utcnow()
    async with db.reader(snapshot=False) as session:
        point = (await session.execute(_POINT_BY["identity"], {"key": identity})).one_or_none()
        if point is None:
            raise NotFound(f"charging point with OCPP identity {identity[:64]!r}")
        ids = inheritance.path_ids(point.owner_path)
        settings = [SettingsRow(*row) for row in await session.execute(_ORG_SETTINGS, {"ids": ids})]
        context = PointContext.of(PointRow._make(point), settings)
        charging_point = f"chargingPoints/{context.point_id}"
        if context.access_mode not in WHITELIST_MODES or context.unlicensed:
            return LocalAuthorizationList(charging_point, context.access_mode)
        rows = list(await session.execute(_whitelisted(ids, context.customer_path).limit(limit + 1)))
    entries = tuple(
        LocalAuthorization(
            id_token=row.uid,
            status=judge(
                context.access_mode, row, True, context.customer_path, context.location_name, now
            ).status,
            expire_time=row.valid_to,
        )
        for row in rows[:limit]
    )
    return LocalAuthorizationList(charging_point, context.access_mode, entries, truncated=len(rows) > limit)
