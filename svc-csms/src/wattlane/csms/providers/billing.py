"""Costs from billing: a `Pricing` over `BillingInternalService.PriceSession` (`billing.pricing`),
the same pricing function that seals the charge record, so the final cost a station shows is the
record's total.

A transaction's tariff is its rate plan recorded at the start (`tariffs/{id}`), its zone the
location's (UTC when none was recorded). The readings are the meter samples stored so far, with
the start and stop registers as energy readings at the start and stop times.

NOT_FOUND / INVALID_ARGUMENT / FAILED_PRECONDITION mean billing will not price this session
(e.g. a tariff it does not know): no cost, billing is fine. Anything else (UNAVAILABLE, a
deadline, an internal error) is an outage: `ProviderUnavailable`.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation
from typing import Protocol

import grpc

from wattlane.api.billing.v1 import tariffs_pb2
from wattlane.core.timestamps import to_timestamp
from wattlane.csms.providers.interfaces import ProviderUnavailable, SessionCost, SessionToPrice

logger = logging.getLogger(__name__)

_REFUSALS = frozenset(
    {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION}
)
_UTC = "UTC"


class PriceSession(Protocol):
    """What this provider needs of `wattlane.core.clients.billing.BillingClient`."""

    async def price_session(
        self,
        tariff: str,
        time_zone: str,
        readings: tariffs_pb2.SessionReadings,
        until: dt.datetime | None = None,
    ) -> tariffs_pb2.PricedSession:
        """Billing's PriceSession."""
        ...


class BillingPricing:
    """A `Pricing` asking billing through its client (which sends the CSMS's service token)."""

    def __init__(self, client: PriceSession) -> None:
        self._client = client

    async def price(self, session: SessionToPrice, until: dt.datetime) -> SessionCost | None:
        """Billing's price of the session up to `until` (see the module docstring for errors)."""
        try:
            priced = await self._client.price_session(
                session.tariff, session.time_zone or _UTC, session_readings(session, until), until
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in _REFUSALS:
                logger.info(
                    "billing will not price transaction %s: %s %s",
                    session.transaction_id,
                    error.code().name,
                    error.details(),
                )
                return None
            raise ProviderUnavailable(f"billing: {error.code().name}: {error.details()}") from None
        except ProviderUnavailable:
            raise
        except Exception as exc:  # identity down (no service token), a broken channel
            raise ProviderUnavailable(f"billing: {type(exc).__name__}: {exc}") from None
        return session_cost(priced)


def session_readings(session: SessionToPrice, until: dt.datetime) -> tariffs_pb2.SessionReadings:
    """The stored session as billing's `SessionReadings`, read the way billing reads a completed
    transaction for its charge record (so the final cost shown is the record's): the start and
    stop registers as readings at the start and stop; samples and charging/parked changes outside
    the session or out of order, and registers going back, left out; only a total known: spread
    evenly."""
    start = session.start_time
    stop = session.stop_time if session.stop_time is None or session.stop_time >= start else start
    end = stop if stop is not None else until
    energy: list[tuple[dt.datetime, int]] = []
    if session.meter_start_wh is not None:
        energy.append((start, session.meter_start_wh))
    power: list[tuple[dt.datetime, str]] = []
    current: list[tuple[dt.datetime, str]] = []
    for sample in sorted(session.samples, key=lambda s: s.at):
        if not start <= sample.at <= end:
            continue
        wh = sample.energy_wh
        if wh is not None and wh >= 0 and (not energy or (sample.at > energy[-1][0] and wh >= energy[-1][1])):
            energy.append((sample.at, wh))
        if sample.power_w is not None and (not power or sample.at > power[-1][0]):
            power.append((sample.at, str(sample.power_w)))
        if sample.current_a is not None and (not current or sample.at > current[-1][0]):
            current.append((sample.at, repr(sample.current_a)))
    if stop is not None and session.meter_stop_wh is not None:
        last = energy[-1] if energy else None
        if last is None or (stop > last[0] and session.meter_stop_wh >= last[1]):
            energy.append((stop, session.meter_stop_wh))
    if stop is not None and len(energy) < 2 and stop > start:
        total = _total_wh(session)
        if total:
            energy = [(start, 0), (stop, total)]
    states: list[tuple[dt.datetime, bool]] = []
    for at, charging in sorted(session.charging_states):
        if start <= at <= end and (not states or at > states[-1][0]):
            states.append((at, charging))
    return tariffs_pb2.SessionReadings(
        start_time=to_timestamp(start),
        stop_time=to_timestamp(stop),
        energy=[tariffs_pb2.EnergySample(time=to_timestamp(t), wh=wh) for t, wh in energy],
        power=[tariffs_pb2.Sample(time=to_timestamp(t), value=v) for t, v in power],
        current=[tariffs_pb2.Sample(time=to_timestamp(t), value=v) for t, v in current],
        charging_states=[tariffs_pb2.ChargingState(time=to_timestamp(t), charging=c) for t, c in states],
    )


def _total_wh(session: SessionToPrice) -> int:
    if session.meter_start_wh is None or session.meter_stop_wh is None:
        return 0
    return max(session.meter_stop_wh - session.meter_start_wh, 0)


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def _amount(price: tariffs_pb2.Price) -> Decimal | None:
    """Including VAT when billing knows the rate, else excluding it."""
    return _decimal(price.incl_vat) if price.incl_vat else _decimal(price.excl_vat)


def session_cost(priced: tariffs_pb2.PricedSession) -> SessionCost | None:
    """What a station shows of billing's answer: the total, and the unit prices of the last
    period (per kWh and per charging hour, VAT included when known) and the flat fee."""
    total = _amount(priced.total_cost)
    if total is None:
        return None
    kwh_price = hour_price = flat_fee = None
    if priced.periods:
        for dimension in priced.periods[-1].dimensions:
            quantity, cost = _decimal(dimension.quantity), _amount(dimension.cost)
            if not quantity or cost is None:
                continue
            if dimension.type == tariffs_pb2.ENERGY:
                kwh_price = cost / (quantity / 1000)
            elif dimension.type == tariffs_pb2.TIME:
                hour_price = cost / (quantity / 3600)
    for dimension in priced.totals:
        if dimension.type == tariffs_pb2.FLAT:
            flat_fee = _amount(dimension.cost)
    energy = _decimal(priced.energy_wh)
    return SessionCost(
        currency=priced.currency,
        total=total,
        energy_wh=int(energy) if energy is not None else 0,
        kwh_price=kwh_price,
        hour_price=hour_price,
        flat_fee=flat_fee,
    )
