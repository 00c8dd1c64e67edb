"""Transaction rows → API messages and CSV lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from wattlane.api.csms.v1 import transactions_pb2
from wattlane.core.timestamps import to_timestamp
from wattlane.csms.models import MeterValue, Transaction, TransactionChargingState
from wattlane.csms.names import station_name, transaction_name

T = transactions_pb2


def _ref(collection: str, resource_id: str) -> str:
    return f"{collection}/{resource_id}" if resource_id else ""


def meter_value(row: MeterValue) -> transactions_pb2.MeterValue:
    """The API view of one sample."""
    message = T.MeterValue(time=to_timestamp(row.time))
    for field in ("energy_wh", "power_w", "current_a", "soc_percent"):
        value = getattr(row, field)
        if value is not None:
            setattr(message, field, value)
    return message


def charging_state(row: TransactionChargingState) -> transactions_pb2.ChargingState:
    """The API view of one charging ↔ parked change."""
    return T.ChargingState(time=to_timestamp(row.time), charging=row.charging)


def transaction(
    row: Transaction,
    samples: Sequence[MeterValue] = (),
    states: Sequence[TransactionChargingState] = (),
) -> transactions_pb2.Transaction:
    """The API view of a transaction (with `samples` and charging `states` for the FULL view)."""
    message = T.Transaction(
        name=transaction_name(row.id),
        station=station_name(row.identity),
        protocol=row.protocol,
        station_transaction_id=row.station_transaction_id or str(row.id),
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        id_token=row.id_token,
        authorization_status=row.authorization_status,
        state=T.Transaction.COMPLETED if row.stop_time is not None else T.Transaction.ACTIVE,
        start_time=to_timestamp(row.start_time),
        stop_reason=row.stop_reason,
        owner=_ref("tenants", row.owner_id),
        location=_ref("locations", row.location_id),
        charging_point=_ref("chargingPoints", row.charging_point_id),
        card=_ref("cards", row.card_id),
        card_owner=_ref("tenants", row.card_owner_id),
        cardholder=_ref("users", row.cardholder_id),
        payer=row.payer,
        rate_plan=row.rate_plan,
        meter_values=[meter_value(s) for s in samples],
        charging_states=[charging_state(s) for s in states],
        time_zone=row.time_zone,
    )
    if (stop := to_timestamp(row.stop_time)) is not None:
        message.stop_time.CopyFrom(stop)
    for field in ("meter_start_wh", "meter_stop_wh", "energy_wh"):
        value = getattr(row, field)
        if value is not None:
            setattr(message, field, value)
    return message


CSV_COLUMNS = (
    "transaction",
    "station",
    "protocol",
    "station_transaction_id",
    "evse_id",
    "connector_id",
    "id_token",
    "start_time",
    "stop_time",
    "meter_start_wh",
    "meter_stop_wh",
    "energy_wh",
    "stop_reason",
    "owner",
    "location",
    "card",
    "card_owner",
    "cardholder",
    "payer",
    "rate_plan",
)


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    # A cell opening with = + - @ would run as a formula in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def csv_chunk(rows: Iterable[Transaction], *, header: bool) -> bytes:
    """CSV lines for `rows` (after the header line when `header`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    transaction_name(r.id),
                    station_name(r.identity),
                    r.protocol,
                    r.station_transaction_id or str(r.id),
                    r.evse_id,
                    r.connector_id,
                    r.id_token,
                    r.start_time.isoformat(),
                    r.stop_time.isoformat() if r.stop_time is not None else None,
                    r.meter_start_wh,
                    r.meter_stop_wh,
                    r.energy_wh,
                    r.stop_reason,
                    _ref("tenants", r.owner_id),
                    _ref("locations", r.location_id),
                    _ref("cards", r.card_id),
                    _ref("tenants", r.card_owner_id),
                    _ref("users", r.cardholder_id),
                    r.payer,
                    r.rate_plan,
                )
            ]
        )
    return out.getvalue().encode()
