"""Charging points: fields and their rules, scoped reads and updates. Creation and removal,
which allocate and release identity's datapoints and licenses, live in `provisioning`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.assets import rules
from wattlane.assets.locations import check_etag, location_name
from wattlane.assets.models import ChargingPoint, Location
from wattlane.core import validation
from wattlane.core.clock import utcnow
from wattlane.core.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from wattlane.core.ids import new_id
from wattlane.core.paging import Page
from wattlane.core.scope import PATH_END, EffectiveScope

CURRENT_TYPES = ("AC", "DC")
OCPP_VERSIONS = ("1.6", "2.0.1")
ONBOARDINGS = ("PRE_APPROVED", "CONNECTED")
UPDATABLE = (
    "vendor",
    "model",
    "serial_number",
    "alias",
    "max_power_w",
    "ocpp_version",
    "public",
    "charging_enabled",
    "rate_plan",
    "rate_plan_override",
    "access_mode",
    "access_mode_override",
    "max_price_per_kwh",
    "currency",
    "certificate_subject",
)
ALLOW_COLUMNS = {"locations": ChargingPoint.location_id, "chargingPoints": ChargingPoint.id}
F = "charging_point"


def point_name(point_id: str) -> str:
    """`chargingPoints/{id}`."""
    return f"chargingPoints/{point_id}"


def license_type(row: ChargingPoint) -> str:
    """The feature license enabled charging holds."""
    return "DC_CHARGING" if row.current_type == "DC" else "AC_CHARGING"


def require(scope: EffectiveScope, permission: str, row: ChargingPoint) -> None:
    """NOT_FOUND when invisible (allow-lists name the point or its location), else DENIED."""
    scope.require(permission, row.owner_path, point_name(row.id), [location_name(row.location_id)])


async def get_in_scope(
    session: AsyncSession,
    scope: EffectiveScope,
    point_id: str,
    permission: str,
    *,
    for_update: bool = False,
    states: tuple[str, ...] = ("ACTIVE",),
) -> ChargingPoint:
    """A live charging point (in one of `states`) the caller holds `permission` on; NOT_FOUND when
    invisible, PERMISSION_DENIED without the permission."""
    query = select(ChargingPoint).where(
        ChargingPoint.id == point_id, ChargingPoint.delete_time.is_(None), ChargingPoint.state.in_(states)
    )
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(point_name(point_id))
    require(scope, permission, row)
    return row


def apply(row: ChargingPoint, changes: Mapping[str, Any]) -> None:
    """Validate and set updatable fields; cross-field rules are checked on the result."""
    for field in ("vendor", "model", "serial_number"):
        if field in changes:
            setattr(
                row, field, validation.text(changes[field], f"{F}.{field}", max_length=50, required=False)
            )
    if "alias" in changes:
        row.alias = validation.text(changes["alias"], f"{F}.alias", max_length=100, required=False)
    if "max_power_w" in changes:
        row.max_power_w = rules.power(changes["max_power_w"], f"{F}.max_power_w")
    if "ocpp_version" in changes:
        version = changes["ocpp_version"] or "1.6"
        if version not in OCPP_VERSIONS:
            raise InvalidArgument.field(f"{F}.ocpp_version", "must be 1.6 or 2.0.1")
        row.ocpp_version = version
    for flag in ("public", "charging_enabled", "rate_plan_override", "access_mode_override"):
        if flag in changes:
            setattr(row, flag, bool(changes[flag]))
    if "rate_plan" in changes:
        row.rate_plan = rules.rate_plan(changes["rate_plan"], f"{F}.rate_plan")
    if "access_mode" in changes:
        mode = changes["access_mode"]
        row.access_mode = rules.access_mode(mode, f"{F}.access_mode") if mode else ""
    if "max_price_per_kwh" in changes:
        if changes["max_price_per_kwh"] < 0:
            raise InvalidArgument.field(f"{F}.max_price_per_kwh", "must not be negative")
        row.max_price_per_kwh = changes["max_price_per_kwh"]
    if "currency" in changes:
        row.currency = rules.currency(changes["currency"], f"{F}.currency") if changes["currency"] else ""
    if "certificate_subject" in changes:
        subject = validation.text(
            changes["certificate_subject"], f"{F}.certificate_subject", max_length=255, required=False
        )
        if subject != row.certificate_subject:
            row.certificate_subject = subject
            row.credential_version += 1
    _check_consistent(row)


def _check_consistent(row: ChargingPoint) -> None:
    problems = []
    if row.access_mode_override and not row.access_mode:
        problems.append(FieldViolation(f"{F}.access_mode", "is required when access_mode_override is set"))
    if row.max_price_per_kwh:
        if not row.public:
            problems.append(
                FieldViolation(f"{F}.max_price_per_kwh", "only public charging points carry a maximum price")
            )
        if not row.currency:
            problems.append(FieldViolation(f"{F}.currency", "is required with max_price_per_kwh"))
    if problems:
        raise InvalidArgument(problems)


async def check_identity_free(session: AsyncSession, identity: str) -> None:
    """ALREADY_EXISTS when a live charging point anywhere on the platform has the identity."""
    taken = await session.scalar(
        select(exists().where(ChargingPoint.ocpp_identity == identity, ChargingPoint.delete_time.is_(None)))
    )
    if taken:
        raise identity_taken(identity)


def identity_taken(identity: str) -> AlreadyExists:
    """ALREADY_EXISTS for a taken OCPP identity."""
    return AlreadyExists(
        f"a charging point with OCPP identity {identity!r} already exists", reason="OCPP_IDENTITY_TAKEN"
    )


def new_point(scope: EffectiveScope, location: Location, fields: Mapping[str, Any]) -> ChargingPoint:
    """A validated, unsaved charging point at `location` (`stations.manage` there)."""
    point_id = new_id()
    if not scope.can(
        "stations.manage", location.owner_path, [location_name(location.id), point_name(point_id)]
    ):
        raise PermissionDenied("stations.manage", location_name(location.id))
    identity = rules.ocpp_identity(fields.get("ocpp_identity", ""), f"{F}.ocpp_identity")
    current = fields.get("current_type", "")
    if current not in CURRENT_TYPES:
        raise InvalidArgument.field(f"{F}.current_type", "is required: AC or DC")
    row = ChargingPoint(
        id=point_id,
        location_id=location.id,
        owner_id=location.owner_id,
        owner_path=location.owner_path,
        state="PROVISIONING",
        ocpp_identity=identity,
        current_type=current,
        onboarding=fields.get("onboarding") or "PRE_APPROVED",
        ocpp_version="1.6",
        vendor="",
        model="",
        serial_number="",
        alias="",
        certificate_subject="",
        credential_version=0,
        max_price_per_kwh=0,
        currency="",
        access_mode="",
        rate_plan="",
        version=1,
    )
    apply(row, {k: v for k, v in fields.items() if k in UPDATABLE})
    return row


def update_permissions(changes: Mapping[str, Any]) -> tuple[str, ...]:
    """What a change needs: enabling or disabling charging uses the organization's feature
    license (`licenses.use`, which organization members hold); any other change configures the
    point (`stations.manage`)."""
    needed = ("licenses.use",) if "charging_enabled" in changes else ()
    if not needed or any(path != "charging_enabled" for path in changes):
        needed = ("stations.manage", *needed)
    return needed


async def get_for_update(
    session: AsyncSession,
    scope: EffectiveScope,
    point_id: str,
    changes: Mapping[str, Any],
    *,
    for_update: bool = False,
) -> ChargingPoint:
    """The point `changes` are about, when the caller holds every permission they need."""
    first, *rest = update_permissions(changes)
    row = await get_in_scope(session, scope, point_id, first, for_update=for_update)
    for permission in rest:
        require(scope, permission, row)
    return row


async def update(
    session: AsyncSession, scope: EffectiveScope, point_id: str, changes: Mapping[str, Any], etag: str = ""
) -> ChargingPoint:
    """Apply validated changes (see `update_permissions`), checking the etag."""
    row = await get_for_update(session, scope, point_id, changes, for_update=True)
    check_etag(row.version, etag, point_name(point_id))
    apply(row, changes)
    row.version += 1
    row.update_time = utcnow()
    await session.flush()
    return row


async def list_in_scope(
    session: AsyncSession,
    scope: EffectiveScope,
    *,
    parent_path: str | None,
    location_id: str | None,
    where: ColumnElement[bool],
    page: Page,
) -> list[ChargingPoint]:
    """Charging points the caller may read (at a location, or under a path), oldest first."""
    if not scope.grants_for("stations.read"):
        raise PermissionDenied("stations.read")
    query = select(ChargingPoint).where(
        ChargingPoint.delete_time.is_(None),
        ChargingPoint.state == "ACTIVE",
        scope.filter("stations.read", ChargingPoint.owner_path, ALLOW_COLUMNS),
        where,
    )
    if location_id is not None:
        query = query.where(ChargingPoint.location_id == location_id)
    if parent_path is not None:
        query = query.where(
            ChargingPoint.owner_path >= parent_path, ChargingPoint.owner_path < parent_path + PATH_END
        )
    return list((await session.execute(page.window(query, [ChargingPoint.id]))).scalars())
