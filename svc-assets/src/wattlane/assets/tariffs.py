"""Tariff references in rate-plan settings, checked with billing (services meet only over gRPC).

A rate plan setting (organization, location or charging point) holds `tariffs/{id}`: billing's
`ResolveTariff` says whether it exists, is a charging tariff and is visible from the tenant that
sets it (owned there or above). Without billing configured, a rate plan cannot be checked and is
refused with FAILED_PRECONDITION naming the field; clearing one (empty) always works.

The public-point rule: a public charging point with a maximum price per kWh must not resolve to a
tariff whose highest energy price (excluding VAT, as billing reports it) is above that maximum,
nor to a tariff in another currency. It is checked whenever a setting that decides it changes:
the point's own fields, or the rate plan of the location or organization it inherits from. A
new tariff version published later in billing is not seen here (billing does not call assets).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import grpc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.assets import inheritance
from wattlane.assets.models import ChargingPoint, Location
from wattlane.core.clients.billing import BillingClient
from wattlane.core.currencies import minor_units
from wattlane.core.errors import FailedPrecondition, FieldViolation, InvalidArgument, Unavailable
from wattlane.core.scope import PATH_END


@dataclass(frozen=True)
class TariffReference:
    """A tariff as a setting sees it (billing's TariffReference)."""

    name: str
    version: int
    currency: str
    owner_path: str
    max_energy_price: Decimal | None  # per kWh excl. VAT, in major units; None: no energy price


class TariffMissing(Exception):
    """Billing knows no such tariff visible from the tenant (NOT_FOUND there)."""


class TariffLink(Protocol):
    async def resolve(self, name: str, owner_path: str, at: dt.datetime | None = None) -> TariffReference:
        """The tariff `name` as seen from `owner_path`; raises TariffMissing or Unavailable."""


class GrpcTariffLink:
    """TariffLink over billing's internal API with assets' service token (`billing.tariffs`)."""

    def __init__(self, target: str, token: Callable[[], Awaitable[str]]) -> None:
        self._client = BillingClient(target, max_attempts=3, token_provider=token)

    async def resolve(self, name: str, owner_path: str, at: dt.datetime | None = None) -> TariffReference:
        """Ask billing; NOT_FOUND is TariffMissing, anything else but an answer is Unavailable."""
        try:
            reply = await self._client.resolve_tariff(name, owner_path, at)
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise TariffMissing(error.details() or name) from None
            raise Unavailable(
                f"billing did not answer: {error.code().name}", reason="BILLING_UNAVAILABLE"
            ) from None
        try:
            price = Decimal(reply.max_energy_price) if reply.max_energy_price else None
        except InvalidOperation:
            price = None
        return TariffReference(reply.name, reply.version, reply.currency, reply.owner_path, price)

    async def close(self) -> None:
        """Close the channel."""
        await self._client.close()


def _link(link: TariffLink | None, field: str) -> TariffLink:
    if link is None:
        raise FailedPrecondition(
            f"{field}: rate plans reference billing's tariffs, and billing is not configured "
            "(WATTLANE_ASSETS_BILLING_ADDRESS); only an empty rate plan can be set",
            reason="BILLING_NOT_CONFIGURED",
        )
    return link


async def check_reference(link: TariffLink | None, name: str, owner_path: str, field: str) -> None:
    """INVALID_ARGUMENT naming `field` unless `name` (non-empty) is a tariff visible from
    `owner_path`; FAILED_PRECONDITION without billing, UNAVAILABLE when billing is down."""
    if not name:
        return
    try:
        await _link(link, field).resolve(name, owner_path)
    except TariffMissing:
        raise InvalidArgument.field(
            field, f"{name} is not a charging tariff of this tenant or above it (billing has none)"
        ) from None


def price_violation(point: ChargingPoint, tariff: TariffReference, field: str) -> FieldViolation | None:
    """Why `tariff` breaks the point's maximum price per kWh, or None when it keeps it."""
    if tariff.currency != point.currency:
        return FieldViolation(
            field,
            f"{tariff.name} is in {tariff.currency}, the point's maximum price per kWh in {point.currency}",
        )
    if tariff.max_energy_price is None:
        return None
    limit = Decimal(point.max_price_per_kwh).scaleb(-minor_units(point.currency))
    if tariff.max_energy_price > limit:
        return FieldViolation(
            field,
            f"{tariff.name} charges up to {tariff.max_energy_price} {tariff.currency}/kWh excl. VAT, above "
            f"the maximum of {limit} {point.currency}/kWh of public charging point chargingPoints/{point.id}",
        )
    return None


async def check_max_prices(
    session: AsyncSession, link: TariffLink | None, points: Iterable[ChargingPoint], field: str
) -> None:
    """INVALID_ARGUMENT naming `field` when a public point with a maximum price per kWh would
    resolve to a tariff above it (each point's effective rate plan as the session sees it now)."""
    cache: dict[tuple[str, str], TariffReference] = {}
    problems: list[FieldViolation] = []
    for point in points:
        if not (point.public and point.max_price_per_kwh):
            continue
        location = await session.get(Location, point.location_id)
        rate, _ = await inheritance.effective(session, point.owner_path, location, point)
        if not rate.value:
            continue  # no tariff: nothing is charged, the maximum holds
        key = (rate.value, point.owner_path)
        if key not in cache:
            try:
                cache[key] = await _link(link, field).resolve(rate.value, point.owner_path)
            except TariffMissing:
                problems.append(FieldViolation(field, f"{rate.value} (from {rate.source}) no longer exists"))
                continue
        if (problem := price_violation(point, cache[key], field)) is not None:
            problems.append(problem)
    if problems:
        raise InvalidArgument(problems)


async def capped_points_below(
    session: AsyncSession, *, owner_path: str | None = None, location_id: str | None = None
) -> list[ChargingPoint]:
    """Live public points with a maximum price in an organization's subtree or at a location."""
    query = select(ChargingPoint).where(
        ChargingPoint.delete_time.is_(None),
        ChargingPoint.public.is_(True),
        ChargingPoint.max_price_per_kwh > 0,
    )
    if owner_path is not None:
        query = query.where(
            ChargingPoint.owner_path >= owner_path, ChargingPoint.owner_path < owner_path + PATH_END
        )
    if location_id is not None:
        query = query.where(ChargingPoint.location_id == location_id)
    return list(await session.scalars(query))


# A charging point's fields that decide its tariff or its maximum price.
_POINT_PRICE_FIELDS = ("rate_plan", "rate_plan_override", "max_price_per_kwh", "currency", "public")


async def check_point(
    session: AsyncSession, link: TariffLink | None, point: ChargingPoint, changes: Mapping[str, Any]
) -> None:
    """After `changes` to a point (or its creation): its own rate plan is a real tariff, and its
    effective tariff keeps its maximum price per kWh when it is public."""
    rate_changed = "rate_plan" in changes or "rate_plan_override" in changes
    if rate_changed:
        await check_reference(link, point.rate_plan, point.owner_path, "charging_point.rate_plan")
    if any(field in changes for field in _POINT_PRICE_FIELDS):
        # Name what the caller set: the maximum when it was given, else the rate plan.
        field = (
            "charging_point.rate_plan"
            if rate_changed and "max_price_per_kwh" not in changes
            else "charging_point.max_price_per_kwh"
        )
        await check_max_prices(session, link, [point], field)
