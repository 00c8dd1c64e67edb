"""BillingInternalService: only service tokens with the named scope may call it (the worker, assets,
the CSMS)."""

from __future__ import annotations

import grpc

from wattlane.api.billing.v1 import charge_records_pb2, internal_pb2, internal_pb2_grpc, tariffs_pb2
from wattlane.billing import catalog
from wattlane.billing.api import convert
from wattlane.billing.api.charge_records import record_message
from wattlane.billing.api.tariffs import price_message
from wattlane.billing.recording import Recorder
from wattlane.billing.runtime import Runtime
from wattlane.contracts import scopes
from wattlane.core import validation
from wattlane.core.caller import current_caller
from wattlane.core.clock import utcnow
from wattlane.core.errors import InvalidArgument
from wattlane.core.names import parse_name
from wattlane.core.timestamps import optional_instant


def _transaction_id(name: str) -> int:
    raw = name.removeprefix("transactions/")
    if not name.startswith("transactions/") or not raw.isdigit() or len(raw) > 18:
        raise InvalidArgument.field(
            "transaction", f"must look like transactions/{{number}}, got {name[:80]!r}"
        )
    return int(raw)


class BillingInternalServicer(internal_pb2_grpc.BillingInternalServiceServicer):
    def __init__(self, rt: Runtime, recorder: Recorder) -> None:
        self.rt = rt
        self.recorder = recorder

    async def RecordCharge(
        self, request: internal_pb2.RecordChargeRequest, context: grpc.aio.ServicerContext
    ) -> charge_records_pb2.ChargeRecord:
        """Seals the charge record of a completed transaction (`billing.records`): read from the
        CSMS, priced with the tariff version in force at its start, upserted by transaction id
        (a repeated delivery returns the same record and changes nothing)."""
        current_caller().require_service_scope(scopes.BILLING_RECORDS)
        transaction_id = _transaction_id(request.transaction)
        workflow_id = validation.text(request.workflow_id, "workflow_id", required=False)
        row, _ = await self.recorder.record(transaction_id, workflow_id)
        return record_message(row)

    async def ResolveTariff(
        self, request: internal_pb2.ResolveTariffRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.TariffReference:
        """What a tariff reference in a setting means (`billing.tariffs`): NOT_FOUND unless the
        tariff exists, is a CHARGING tariff and is owned at `owner_path` or above it."""
        current_caller().require_service_scope(scopes.BILLING_TARIFFS)
        tariff_id = parse_name(request.name, "tariffs")
        if not request.owner_path.startswith("/") or not request.owner_path.endswith("/"):
            raise InvalidArgument.field("owner_path", "must be a tenant path like /op/p7/c42/")
        at = optional_instant(request, "at", "at") or utcnow()
        async with self.rt.db.reader() as session:
            version = await catalog.resolve(session, tariff_id, request.owner_path, at)
        energy = catalog.max_energy_price(version.spec.tariff)
        return internal_pb2.TariffReference(
            name=version.name,
            version=version.version,
            currency=version.spec.tariff.currency,
            owner_path=version.owner_path,
            max_energy_price="" if energy is None else str(energy),
            display_name=version.spec.display_name,
        )

    async def PriceSession(
        self, request: internal_pb2.PriceSessionRequest, context: grpc.aio.ServicerContext
    ) -> tariffs_pb2.PricedSession:
        """Prices a session, running or finished (`billing.pricing`): the tariff version in force
        at its start (a tariff deleted since still prices it), the same function as the record.
        A running session is priced up to `until` (default now)."""
        current_caller().require_service_scope(scopes.BILLING_PRICING)
        tariff_id = parse_name(request.tariff, "tariffs", "tariff")
        time_zone = validation.time_zone(request.time_zone, "time_zone") if request.time_zone else "UTC"
        if not request.HasField("readings"):
            raise InvalidArgument.field("readings", "is required")
        session_data = convert.session_from_readings(request.readings)
        until = optional_instant(request, "until", "until")
        if session_data.stop is None and until is None:
            until = utcnow()
        async with self.rt.db.reader() as session:
            version = await catalog.version_at(session, tariff_id, session_data.start)
        return price_message(version, session_data, time_zone, until)
