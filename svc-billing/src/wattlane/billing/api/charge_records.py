"""ChargeRecordService: sealed charge records, visible like their transactions."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence

import grpc
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wattlane.api.billing.v1 import charge_records_pb2, charge_records_pb2_grpc
from wattlane.billing import charge_records
from wattlane.billing.api import convert
from wattlane.billing.models import ChargeRecordRow
from wattlane.billing.recording import Recorder
from wattlane.billing.runtime import Runtime
from wattlane.core.caller import Caller, current_caller
from wattlane.core.errors import Aborted, InvalidArgument
from wattlane.core.filtering import Field, compile_filter
from wattlane.core.listing import list_call
from wattlane.core.names import parse_name, parse_optional_name
from wattlane.core.paging import Page
from wattlane.core.timestamps import to_timestamp

EXPORT_PAGE = 1000  # rows per query and per CSV chunk


def _transaction(raw: str) -> int:
    text = raw.removeprefix("transactions/")
    if not text.isdigit() or len(text) > 18:
        raise InvalidArgument.field(
            "filter", f"transaction must be transactions/{{number}}, got {raw[:40]!r}"
        )
    return int(text)


R = ChargeRecordRow
FILTERS = {
    "transaction": Field(R.transaction_id, convert=_transaction),
    "station": Field(R.station, convert=lambda raw: raw.removeprefix("stations/")),
    "location": Field(R.location_id, convert=lambda raw: raw.removeprefix("locations/")),
    "card": Field(R.card_id, convert=lambda raw: raw.removeprefix("cards/")),
    "owner": Field(R.owner_id, convert=lambda raw: raw.removeprefix("tenants/")),
    "card_owner": Field(R.card_owner_id, convert=lambda raw: raw.removeprefix("tenants/")),
    "payer_kind": Field(R.payer_kind, "enum", ("FREE", "CARDHOLDER", "ROAMING")),
    "kind": Field(R.kind, "enum", charge_records.KINDS),
    "currency": Field(R.currency),
    "start_time": Field(R.start_time, "timestamp"),
    "stop_time": Field(R.stop_time, "timestamp"),
}
_PAYER_KINDS = {"FREE": 1, "CARDHOLDER": 2, "ROAMING": 3}


def _ref(collection: str, value: str) -> str:
    return f"{collection}/{value}" if value else ""


def record_message(row: ChargeRecordRow) -> charge_records_pb2.ChargeRecord:
    """A sealed record as the API shows it."""
    message = charge_records_pb2.ChargeRecord(
        name=charge_records.record_name(row.id),
        transaction=f"transactions/{row.transaction_id}",
        kind=charge_records_pb2.ChargeRecord.Kind.Value(row.kind),
        corrects=_ref("chargeRecords", row.corrects),
        owner=_ref("tenants", row.owner_id),
        location=_ref("locations", row.location_id),
        charging_point=_ref("chargingPoints", row.charging_point_id),
        station=_ref("stations", row.station),
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        id_token=row.id_token,
        card=_ref("cards", row.card_id),
        card_owner=_ref("tenants", row.card_owner_id),
        cardholder=_ref("users", row.cardholder_id),
        payer_kind=_PAYER_KINDS.get(row.payer_kind, 0),  # type: ignore[arg-type]
        payer=row.payer,
        home_charging_compensation=row.home_charging_compensation,
        start_time=to_timestamp(row.start_time),
        stop_time=to_timestamp(row.stop_time),
        energy_wh=row.energy_wh,
        currency=row.currency,
        create_time=to_timestamp(row.create_time),
    )
    message.total_cost.excl_vat = row.total_excl_vat
    message.total_cost.incl_vat = row.total_incl_vat
    if row.tariff_snapshot is not None:
        message.tariff.CopyFrom(
            convert.snapshot_message(
                row.tariff_snapshot,
                name=_ref("tariffs", row.tariff_id),
                parent="",
                version=row.tariff_version,
            )
        )
    message.priced.CopyFrom(convert.priced_message(row.priced))
    return message


def _user_id(caller: Caller) -> str:
    return "" if caller.principal.is_service else caller.principal.subject


def _before(page: Page) -> str | None:
    """The record id a page token continues before (newest first)."""
    if page.after is None:
        return None
    key = page.after[0] if len(page.after) == 1 else None
    if not isinstance(key, str):
        raise InvalidArgument.field("page_token", "belongs to a different query or caller")
    return key


def csv_chunk(rows: Sequence[ChargeRecordRow], *, header: bool) -> bytes:
    """CSV text of `rows` (with the header line first when asked)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(charge_records.CSV_COLUMNS)
    writer.writerows(charge_records.csv_row(r) for r in rows)
    return out.getvalue().encode()


class ChargeRecordServicer(charge_records_pb2_grpc.ChargeRecordServiceServicer):
    """Reads of charge records, by visibility."""

    def __init__(self, rt: Runtime, recorder: Recorder) -> None:
        self.rt = rt
        self.recorder = recorder

    async def GetChargeRecord(
        self, request: charge_records_pb2.GetChargeRecordRequest, context: grpc.aio.ServicerContext
    ) -> charge_records_pb2.ChargeRecord:
        """Gets a charge record (`transactions.read` or `billing.read` on its station owner or card
        owner, or the cardholder)."""
        record_id = parse_name(request.name, "chargeRecords")
        caller = current_caller()
        scope = await caller.scope()
        async with self.rt.db.reader() as session:
            row = await charge_records.get_in_scope(session, scope, record_id, _user_id(caller))
        return record_message(row)

    async def ListChargeRecords(
        self, request: charge_records_pb2.ListChargeRecordsRequest, context: grpc.aio.ServicerContext
    ) -> charge_records_pb2.ListChargeRecordsResponse:
        """Lists visible charge records, newest first, one page."""
        call = await list_call(request, "ListChargeRecords", filter_fields=FILTERS)
        async with self.rt.db.reader() as session:
            rows = await charge_records.list_visible(
                session,
                call.scope,
                _user_id(call.caller),
                call.where,
                tenant_id=call.parent_id,
                before=_before(call.page),
                limit=call.page.size + 1,
            )
        return charge_records_pb2.ListChargeRecordsResponse(
            charge_records=[record_message(r) for r in rows[: call.page.size]],
            next_page_token=call.page.next_token(rows, lambda r: r.id),
        )

    async def ExportChargeRecords(
        self, request: charge_records_pb2.ExportChargeRecordsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[charge_records_pb2.ExportChargeRecordsResponse]:
        """Streams visible charge records as CSV, newest first, one query and chunk per 1,000 rows."""
        caller = current_caller()
        tenant_id = parse_optional_name(request.parent, "tenants", "parent")
        where = compile_filter(request.filter, FILTERS)
        scope = await caller.scope()
        before: str | None = None
        header = True
        while True:
            # A short read per chunk: nothing is held open while the client reads the stream.
            async with self.rt.db.reader(snapshot=False) as session:
                rows = await charge_records.list_visible(
                    session,
                    scope,
                    _user_id(caller),
                    where,
                    tenant_id=tenant_id,
                    before=before,
                    limit=EXPORT_PAGE,
                )
            if rows or header:
                yield charge_records_pb2.ExportChargeRecordsResponse(csv=csv_chunk(rows, header=header))
            header = False
            if len(rows) < EXPORT_PAGE:
                return
            before = rows[-1].id

    async def CorrectChargeRecord(
        self, request: charge_records_pb2.CorrectChargeRecordRequest, context: grpc.aio.ServicerContext
    ) -> charge_records_pb2.CorrectChargeRecordResponse:
        """Corrects a record (`billing.manage` on its station owner): a CREDIT negating it, then a
        new DEBIT priced from the transaction as the CSMS has it now, with `tariff` when given."""
        record_id = parse_name(request.name, "chargeRecords")
        tariff_id = parse_optional_name(request.tariff, "tariffs", "tariff")
        caller = current_caller()
        scope = await caller.scope()
        replayed = await self.rt.idempotency.replay(request, charge_records_pb2.CorrectChargeRecordResponse)
        if replayed is not None:
            return replayed
        tx, version = await self.recorder.correction_inputs(scope, _user_id(caller), record_id, tariff_id)

        async def write(session: AsyncSession) -> charge_records_pb2.CorrectChargeRecordResponse:
            credit, debit = await charge_records.correct(session, scope, record_id, version, tx)
            for row in (credit, debit):
                await self.rt.audit.record(
                    session,
                    resource=charge_records.record_name(row.id),
                    tenant_path=row.owner_path,
                    changes={
                        "kind": row.kind,
                        "corrects": row.corrects,
                        "total_excl_vat": row.total_excl_vat,
                    },
                )
            return charge_records_pb2.CorrectChargeRecordResponse(
                credit=record_message(credit), debit=record_message(debit)
            )

        try:
            return await self.rt.idempotency.once(
                request, charge_records_pb2.CorrectChargeRecordResponse, write
            )
        except IntegrityError:
            raise Aborted(
                f"{request.name} is being corrected by someone else; read it again",
                reason="CONCURRENT_CORRECTION",
            ) from None
