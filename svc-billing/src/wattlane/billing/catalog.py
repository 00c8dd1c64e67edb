"""Tariffs as the service keeps them: owned by a tenant, versioned, each version immutable.

A version's content is a `TariffSpec` (the pricing `Tariff` plus what people read: name, OCPI
type, display texts). It is stored as a JSON snapshot in the OCPI 2.2.1 shape
(`spec_to_json`, read back with `tariffs.from_ocpi`), and a charge record copies that snapshot,
so a record can be re-read and re-priced when the tariff is long gone.

Which version prices a session: the highest-numbered version whose `effective_from` is at or
before the session's start (a newer version supersedes one still pending); before the first
version's `effective_from`, the first version (a tariff has nothing earlier). Every function
works inside the caller's transaction and scope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wattlane.billing.models import TariffRow, TariffVersionRow
from wattlane.billing.tariffs import Dimension, Element, Tariff, from_ocpi
from wattlane.core.clients.directory import Owner
from wattlane.core.clock import utcnow
from wattlane.core.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from wattlane.core.ids import new_id
from wattlane.core.paging import Page
from wattlane.core.scope import PATH_END, EffectiveScope

READ = "billing.read"
MANAGE = "billing.manage"
PURPOSES = ("CHARGING", "HOME_REIMBURSEMENT")
TYPES = ("", "AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR")
# A client's "now" reaches us a little later: an effective_from this far back still means now.
PAST_TOLERANCE = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class TariffSpec:
    """The content of one tariff version."""

    display_name: str
    tariff: Tariff
    purpose: str = "CHARGING"
    type: str = ""
    display_texts: tuple[tuple[str, str], ...] = ()  # (language, text)


@dataclass(frozen=True)
class TariffVersion:
    """One stored version of a tariff, with its tariff's ownership."""

    tariff_id: str
    owner_id: str
    owner_path: str
    version: int
    effective_from: dt.datetime
    create_time: dt.datetime  # of the tariff
    update_time: dt.datetime  # of this version
    latest_version: int
    spec: TariffSpec
    snapshot: Mapping[str, Any]

    @property
    def name(self) -> str:
        return tariff_name(self.tariff_id)


def tariff_name(tariff_id: str) -> str:
    """`tariffs/{id}`."""
    return f"tariffs/{tariff_id}"


# --- the snapshot ------------------------------------------------------------------------------


def _decimal(value: Decimal) -> str:
    return str(value)


def to_ocpi(tariff: Tariff) -> dict[str, Any]:
    """The OCPI 2.2.1 JSON of a pricing tariff (numbers as exact decimal strings, durations as
    integers), which `tariffs.from_ocpi` reads back to an equal tariff."""
    data: dict[str, Any] = {"currency": tariff.currency, "elements": [_element(e) for e in tariff.elements]}
    for key, price in (("min_price", tariff.min_price), ("max_price", tariff.max_price)):
        if price is not None:
            data[key] = {"excl_vat": _decimal(price.excl_vat)}
            if price.incl_vat is not None:
                data[key]["incl_vat"] = _decimal(price.incl_vat)
    return data


def _element(element: Element) -> dict[str, Any]:
    components = []
    for c in element.price_components:
        component: dict[str, Any] = {
            "type": c.dimension.value,
            "price": _decimal(c.price),
            "step_size": c.step_size,
        }
        if c.vat is not None:
            component["vat"] = _decimal(c.vat)
        components.append(component)
    data: dict[str, Any] = {"price_components": components}
    r = element.restrictions
    restrictions: dict[str, Any] = {}
    for key in ("start_time", "end_time"):
        if getattr(r, key) is not None:
            restrictions[key] = getattr(r, key)
    for key in ("start_date", "end_date"):
        if getattr(r, key) is not None:
            restrictions[key] = getattr(r, key).isoformat()
    for key in ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power"):
        if getattr(r, key) is not None:
            restrictions[key] = _decimal(getattr(r, key))
    for key in ("min_duration", "max_duration"):
        if getattr(r, key) is not None:
            restrictions[key] = int(getattr(r, key))
    if r.day_of_week:
        restrictions["day_of_week"] = [d.name for d in sorted(r.day_of_week)]
    if r.reservation is not None:
        restrictions["reservation"] = r.reservation.value
    if restrictions:
        data["restrictions"] = restrictions
    return data


def spec_to_json(spec: TariffSpec) -> dict[str, Any]:
    """The snapshot of a version: OCPI fields plus name, purpose, type and display texts."""
    return {
        **to_ocpi(spec.tariff),
        "display_name": spec.display_name,
        "purpose": spec.purpose,
        "type": spec.type,
        "display_texts": [{"language": lang, "text": text} for lang, text in spec.display_texts],
    }


def spec_from_json(snapshot: Mapping[str, Any], tariff_id: str = "") -> TariffSpec:
    """A snapshot read back (it was valid when stored)."""
    tariff = replace(from_ocpi(snapshot), id=tariff_id)
    return TariffSpec(
        display_name=str(snapshot.get("display_name", "")),
        tariff=tariff,
        purpose=str(snapshot.get("purpose", "CHARGING")),
        type=str(snapshot.get("type", "")),
        display_texts=tuple((str(t["language"]), str(t["text"])) for t in snapshot.get("display_texts", ())),
    )


def max_energy_price(tariff: Tariff) -> Decimal | None:
    """The highest ENERGY price per kWh excluding VAT over all elements (None: no energy price)."""
    prices = [c.price for e in tariff.elements for c in e.price_components if c.dimension is Dimension.ENERGY]
    return max(prices) if prices else None


def check_purpose(spec: TariffSpec, owner_kind: str) -> None:
    """A home-charging reimbursement rate is per kWh only, and set by the employer (an
    organization)."""
    if spec.purpose not in PURPOSES:
        raise InvalidArgument.field("tariff.purpose", f"unknown purpose {spec.purpose!r}")
    if spec.purpose != "HOME_REIMBURSEMENT":
        return
    if owner_kind and owner_kind != "ORGANIZATION":
        raise FailedPrecondition(
            "a home-charging reimbursement rate is set by the employer (an organization), "
            f"not a {owner_kind.lower()}",
            reason="NOT_AN_ORGANIZATION",
        )
    for i, element in enumerate(spec.tariff.elements):
        for j, component in enumerate(element.price_components):
            if component.dimension is not Dimension.ENERGY:
                raise InvalidArgument.field(
                    f"tariff.elements[{i}].price_components[{j}].type",
                    "a home-charging reimbursement rate prices ENERGY only",
                )


def effective_from(requested: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When a new version comes into force: `requested` (not in the past) or now."""
    if requested is None:
        return now
    if requested < now - PAST_TOLERANCE:
        raise InvalidArgument.field(
            "tariff.effective_from",
            "must not be in the past: a tariff change applies from the next session on, never retroactively",
        )
    return max(requested, now)


# --- reads -------------------------------------------------------------------------------------


# Versions never change, so each is read from its snapshot once per process (and its pricing plan
# compiled once: `pricing.plan_of` caches by tariff object): the CSMS asks for running costs often.
_SPECS: dict[tuple[str, int], TariffSpec] = {}
_MAX_SPECS = 4096


def _spec(tariff_id: str, version: TariffVersionRow) -> TariffSpec:
    key = (tariff_id, version.version)
    spec = _SPECS.get(key)
    if spec is None:
        if len(_SPECS) >= _MAX_SPECS:
            _SPECS.clear()
        spec = _SPECS[key] = spec_from_json(version.snapshot, tariff_id)
    return spec


def _version(row: TariffRow, version: TariffVersionRow) -> TariffVersion:
    return TariffVersion(
        tariff_id=row.id,
        owner_id=row.owner_id,
        owner_path=row.owner_path,
        version=version.version,
        effective_from=version.effective_from,
        create_time=row.create_time,
        update_time=version.create_time,
        latest_version=row.latest_version,
        spec=_spec(row.id, version),
        snapshot=version.snapshot,
    )


async def _row(
    session: AsyncSession, tariff_id: str, *, deleted: bool = False, for_update: bool = False
) -> TariffRow:
    query = select(TariffRow).where(TariffRow.id == tariff_id)
    if not deleted:
        query = query.where(TariffRow.delete_time.is_(None))
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(tariff_name(tariff_id))
    return row


async def _row_in_scope(
    session: AsyncSession, scope: EffectiveScope, tariff_id: str, permission: str, *, for_update: bool = False
) -> TariffRow:
    row = await _row(session, tariff_id, for_update=for_update)
    scope.require(permission, row.owner_path, tariff_name(tariff_id))
    return row


async def _version_row(
    session: AsyncSession, tariff_id: str, *, number: int = 0, at: dt.datetime | None = None
) -> TariffVersionRow:
    """Version `number`, or the one in force at `at` (see the module docstring)."""
    t = TariffVersionRow
    query = select(t).where(t.tariff_id == tariff_id)
    if number:
        found = (await session.execute(query.where(t.version == number))).scalar_one_or_none()
        if found is None:
            raise NotFound(f"{tariff_name(tariff_id)} version {number}")
        return found
    instant = at or utcnow()
    found = (
        await session.execute(query.where(t.effective_from <= instant).order_by(t.version.desc()).limit(1))
    ).scalar_one_or_none()
    if found is None:
        found = (await session.execute(query.order_by(t.version).limit(1))).scalar_one()
    return found


async def get_in_scope(
    session: AsyncSession, scope: EffectiveScope, tariff_id: str, *, number: int = 0, permission: str = READ
) -> TariffVersion:
    """A version of a live tariff the caller holds `permission` on (0: the one in force now)."""
    row = await _row_in_scope(session, scope, tariff_id, permission)
    return _version(row, await _version_row(session, tariff_id, number=number))


async def version_at(session: AsyncSession, tariff_id: str, at: dt.datetime) -> TariffVersion:
    """The version in force at `at`, for the internal pricing and recording paths: a deleted
    tariff still prices a session that started before the deletion (as it was), never one that
    started after it (NOT_FOUND, as for a tariff that never was)."""
    row = await _row(session, tariff_id, deleted=True)
    if row.delete_time is not None and at >= row.delete_time:
        raise NotFound(tariff_name(tariff_id))
    return _version(row, await _version_row(session, tariff_id, at=at))


async def resolve(session: AsyncSession, tariff_id: str, owner_path: str, at: dt.datetime) -> TariffVersion:
    """A live CHARGING tariff visible from a setting of the tenant at `owner_path` (owned there or
    above); NOT_FOUND otherwise."""
    row = await _row(session, tariff_id)
    if row.purpose != "CHARGING" or not owner_path.startswith(row.owner_path):
        raise NotFound(tariff_name(tariff_id))
    return _version(row, await _version_row(session, tariff_id, at=at))


async def list_versions(
    session: AsyncSession, scope: EffectiveScope, tariff_id: str, page: Page
) -> list[TariffVersion]:
    """A tariff's versions, newest first (one more than the page)."""
    row = await _row_in_scope(session, scope, tariff_id, READ)
    t = TariffVersionRow
    query = select(t).where(t.tariff_id == tariff_id)
    if page.after is not None:
        key = page.after[0] if len(page.after) == 1 else None
        if not isinstance(key, int) or isinstance(key, bool):
            raise InvalidArgument.field("page_token", "belongs to a different query or caller")
        query = query.where(t.version < key)
    rows = (await session.execute(query.order_by(t.version.desc()).limit(page.size + 1))).scalars()
    return [_version(row, v) for v in rows]


async def list_in_scope(
    session: AsyncSession,
    scope: EffectiveScope,
    *,
    parent_path: str | None,
    where: ColumnElement[bool],
    page: Page,
    now: dt.datetime,
) -> list[TariffVersion]:
    """Live tariffs the caller may read (under `parent_path` when given), oldest first, each in
    its version in force at `now` (one more than the page)."""
    if not scope.grants_for(READ):
        raise PermissionDenied(READ)
    query = select(TariffRow).where(
        TariffRow.delete_time.is_(None), scope.filter(READ, TariffRow.owner_path), where
    )
    if parent_path is not None:
        query = query.where(
            TariffRow.owner_path >= parent_path, TariffRow.owner_path < parent_path + PATH_END
        )
    rows = list((await session.execute(page.window(query, [TariffRow.id]))).scalars())
    if not rows:
        return []
    t = TariffVersionRow
    versions = (await session.execute(select(t).where(t.tariff_id.in_([r.id for r in rows])))).scalars()
    by_tariff: dict[str, list[TariffVersionRow]] = {}
    for v in versions:
        by_tariff.setdefault(v.tariff_id, []).append(v)
    out = []
    for row in rows:
        candidates = sorted(by_tariff[row.id], key=lambda v: v.version)
        in_force = [v for v in candidates if v.effective_from <= now]
        out.append(_version(row, in_force[-1] if in_force else candidates[0]))
    return out


# --- writes ------------------------------------------------------------------------------------


def _check_etag(row: TariffRow, etag: str) -> None:
    if etag and etag != str(row.latest_version):
        raise Aborted(
            f"{tariff_name(row.id)} was changed by someone else (etag {etag} is stale); read it again",
            reason="ETAG_MISMATCH",
        )


async def create(
    session: AsyncSession,
    scope: EffectiveScope,
    owner: Owner,
    spec: TariffSpec,
    requested_from: dt.datetime | None,
) -> TariffVersion:
    """Version 1 of a new tariff owned by `owner` (`billing.manage` there)."""
    scope.require(MANAGE, owner.path, owner.name)
    check_purpose(spec, owner.kind)
    now = utcnow()
    row = TariffRow(
        id=new_id(),
        owner_id=owner.tenant_id,
        owner_path=owner.path,
        purpose=spec.purpose,
        display_name=spec.display_name,
        currency=spec.tariff.currency,
        latest_version=1,
        create_time=now,
        update_time=now,
    )
    version = TariffVersionRow(
        tariff_id=row.id,
        version=1,
        effective_from=effective_from(requested_from, now),
        create_time=now,
        snapshot=spec_to_json(spec),
    )
    session.add(row)
    await session.flush()
    session.add(version)
    await session.flush()
    return _version(row, version)


async def latest(session: AsyncSession, scope: EffectiveScope, tariff_id: str) -> TariffVersion:
    """The newest version (what an update starts from), `billing.manage` required."""
    row = await _row_in_scope(session, scope, tariff_id, MANAGE)
    return _version(row, await _version_row(session, tariff_id, number=row.latest_version))


async def add_version(
    session: AsyncSession,
    scope: EffectiveScope,
    tariff_id: str,
    spec: TariffSpec,
    requested_from: dt.datetime | None,
    *,
    etag: str = "",
) -> TariffVersion:
    """The next version of a tariff (`billing.manage`), in force from `requested_from` or now."""
    row = await _row_in_scope(session, scope, tariff_id, MANAGE, for_update=True)
    _check_etag(row, etag)
    if spec.purpose != row.purpose:
        raise InvalidArgument.field("tariff.purpose", "is immutable")
    check_purpose(spec, "")
    now = utcnow()
    row.latest_version += 1
    row.display_name = spec.display_name
    row.currency = spec.tariff.currency
    row.update_time = now
    version = TariffVersionRow(
        tariff_id=row.id,
        version=row.latest_version,
        effective_from=effective_from(requested_from, now),
        create_time=now,
        snapshot=spec_to_json(spec),
    )
    session.add(version)
    await session.flush()
    return _version(row, version)


async def delete(
    session: AsyncSession, scope: EffectiveScope, tariff_id: str, *, etag: str = ""
) -> TariffRow:
    """Soft-delete a tariff (`billing.manage`): no new reference resolves to it; its versions
    stay, so sessions already started with it and records keep their prices."""
    row = await _row_in_scope(session, scope, tariff_id, MANAGE, for_update=True)
    _check_etag(row, etag)
    row.delete_time = utcnow()
    await session.flush()
    return row
