"""Completed transactions as billing reads them from the CSMS (GetTransaction, FULL view, with
billing's service token: scope `csms.transactions`), and the pricing session made of one.

Without `charging_states` a session is charging throughout; without `time_zone` it is priced in
UTC (what the CSMS sends when it knows neither)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import grpc

from wattlane.api.csms.v1 import transactions_pb2
from wattlane.billing.errors import InvalidSession
from wattlane.billing.sessions import CurrentSample, EnergySample, PowerSample, Session, StatusChange
from wattlane.core.clients.csms import CsmsClient
from wattlane.core.errors import FailedPrecondition, NotFound, Unavailable


@dataclass(frozen=True)
class MeterSample:
    """One meter value of the transaction (any of the readings may be absent)."""

    time: dt.datetime
    energy_wh: int | None = None
    power_w: int | None = None
    current_a: Decimal | None = None


@dataclass(frozen=True)
class CompletedTransaction:
    """What a charge record is made of."""

    id: int
    station: str = ""
    evse_id: int = 0
    connector_id: int = 0
    id_token: str = ""
    completed: bool = True
    start: dt.datetime = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    stop: dt.datetime | None = None
    meter_start_wh: int | None = None
    meter_stop_wh: int | None = None
    energy_wh: int | None = None
    owner_id: str = ""
    location_id: str = ""
    charging_point_id: str = ""
    card_id: str = ""
    card_owner_id: str = ""
    cardholder_id: str = ""
    payer: str = ""  # free | cardholder | roaming | ""
    rate_plan: str = ""  # tariffs/{id}, or "" (nothing to price with)
    samples: tuple[MeterSample, ...] = ()
    charging_states: tuple[tuple[dt.datetime, bool], ...] = ()
    time_zone: str = ""  # "" = UTC


class TransactionSource(Protocol):
    async def get(self, transaction_id: int) -> CompletedTransaction:
        """The transaction (NOT_FOUND when the CSMS has none; UNAVAILABLE when it cannot answer)."""


def session_of(tx: CompletedTransaction) -> Session:
    """The pricing session of a completed transaction. The energy register is read from the meter
    values between the start and the stop readings; samples out of order, or a register going
    back, are left out (a station's clock or meter glitch must not make a session unpriceable)."""
    stop = tx.stop if tx.stop is not None and tx.stop >= tx.start else tx.start
    energy: list[EnergySample] = []
    if tx.meter_start_wh is not None:
        energy.append(EnergySample(tx.start, tx.meter_start_wh))
    power: list[PowerSample] = []
    current: list[CurrentSample] = []
    for sample in sorted(tx.samples, key=lambda s: s.time):
        if not tx.start <= sample.time <= stop:
            continue
        wh = sample.energy_wh
        if (
            wh is not None
            and wh >= 0
            and (not energy or (sample.time > energy[-1].at and wh >= energy[-1].wh))
        ):
            energy.append(EnergySample(sample.time, wh))
        if sample.power_w is not None and (not power or sample.time > power[-1].at):
            power.append(PowerSample(sample.time, sample.power_w))
        if sample.current_a is not None and (not current or sample.time > current[-1].at):
            current.append(CurrentSample(sample.time, sample.current_a))
    if tx.meter_stop_wh is not None:
        last = energy[-1] if energy else None
        if last is None or (stop > last.at and tx.meter_stop_wh >= last.wh):
            energy.append(EnergySample(stop, tx.meter_stop_wh))
    if len(energy) < 2 and tx.energy_wh:  # only the total is known: spread it evenly
        energy = (
            [EnergySample(tx.start, 0), EnergySample(stop, max(tx.energy_wh, 0))] if stop > tx.start else []
        )
    status: list[StatusChange] = []
    for at, charging in sorted(tx.charging_states):
        if tx.start <= at <= stop and (not status or at > status[-1].at):
            status.append(StatusChange(at, charging))
    try:
        return Session(tx.start, stop, tuple(energy), tuple(power), tuple(current), tuple(status))
    except InvalidSession:
        return Session(tx.start, stop)


def energy_of(tx: CompletedTransaction) -> int:
    """Energy charged, Wh (the CSMS's figure, else the register's movement)."""
    if tx.energy_wh is not None:
        return max(tx.energy_wh, 0)
    if tx.meter_start_wh is not None and tx.meter_stop_wh is not None:
        return max(tx.meter_stop_wh - tx.meter_start_wh, 0)
    return 0


# --- the CSMS over gRPC --------------------------------------------------------------------------


def _instant(value: Any) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
        seconds=value.seconds, microseconds=value.nanos // 1000
    )


def _name_id(name: str, collection: str) -> str:
    return name.removeprefix(f"{collection}/") if name.startswith(f"{collection}/") else ""


def from_message(message: transactions_pb2.Transaction) -> CompletedTransaction:
    """The CSMS's Transaction as billing reads it."""
    samples = tuple(
        MeterSample(
            time=_instant(v.time),
            energy_wh=v.energy_wh if v.HasField("energy_wh") else None,
            power_w=v.power_w if v.HasField("power_w") else None,
            current_a=Decimal(repr(v.current_a)) if v.HasField("current_a") else None,
        )
        for v in message.meter_values
    )
    states = tuple((_instant(s.time), s.charging) for s in message.charging_states)
    return CompletedTransaction(
        id=int(message.name.removeprefix("transactions/")),
        station=message.station.removeprefix("stations/"),
        evse_id=message.evse_id,
        connector_id=message.connector_id,
        id_token=message.id_token,
        completed=message.state == transactions_pb2.Transaction.COMPLETED,
        start=_instant(message.start_time),
        stop=_instant(message.stop_time) if message.HasField("stop_time") else None,
        meter_start_wh=message.meter_start_wh if message.HasField("meter_start_wh") else None,
        meter_stop_wh=message.meter_stop_wh if message.HasField("meter_stop_wh") else None,
        energy_wh=message.energy_wh if message.HasField("energy_wh") else None,
        owner_id=_name_id(message.owner, "tenants"),
        location_id=_name_id(message.location, "locations"),
        charging_point_id=_name_id(message.charging_point, "chargingPoints"),
        card_id=_name_id(message.card, "cards"),
        card_owner_id=_name_id(message.card_owner, "tenants"),
        cardholder_id=_name_id(message.cardholder, "users"),
        payer=message.payer,
        rate_plan=message.rate_plan,
        samples=samples,
        charging_states=states,
        time_zone=message.time_zone,
    )


class CsmsTransactions:
    """`TransactionSource` over the CSMS's TransactionService with billing's service token."""

    def __init__(self, target: str, token: Callable[[], Awaitable[str]], *, timeout: float = 10.0) -> None:
        self._client = CsmsClient(target, max_attempts=3)
        self._token = token
        self._timeout = timeout

    async def get(self, transaction_id: int) -> CompletedTransaction:
        """The transaction with every meter value."""
        self._client.token = await self._token()
        request = transactions_pb2.GetTransactionRequest(
            name=f"transactions/{transaction_id}", view=transactions_pb2.FULL
        )
        try:
            reply = await self._client.transactions.GetTransaction(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(f"transactions/{transaction_id}") from None
            if error.code() == grpc.StatusCode.PERMISSION_DENIED:
                raise FailedPrecondition(
                    "the CSMS refused billing's service token (scope csms.transactions)",
                    reason="CSMS_REFUSED",
                ) from None
            raise Unavailable(
                f"the CSMS did not answer: {error.code().name}", reason="CSMS_UNAVAILABLE"
            ) from None
        return from_message(reply)

    async def close(self) -> None:
        """Close the channel."""
        await self._client.close()
