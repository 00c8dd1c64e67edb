"""BillingInternalService: only service tokens with the named scope may call it (the worker, assets,
the CSMS)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import grpc
from sqlalchemy.exc import IntegrityError

from wattlane.api.billing.v1 import charge_records_pb2, internal_pb2, internal_pb2_grpc, tariffs_pb2
from wattlane.billing import catalog, invoices, settlement
from wattlane.billing.api import convert
from wattlane.billing.api.charge_records import record_message
from wattlane.billing.api.tariffs import price_message
from wattlane.billing.recording import Recorder
from wattlane.billing.runtime import Runtime
from wattlane.contracts import scopes
from wattlane.core import validation
from wattlane.core.caller import current_caller
from wattlane.core.clock import utcnow
from wattlane.core.errors import InvalidArgument, NotFound
from wattlane.core.names import parse_name
from wattlane.core.paging import parse_page
from wattlane.core.timestamps import optional_instant


def _transaction_id(name: str) -> int:
    raw = name.removeprefix("transactions/")
    if not name.startswith("transactions/") or not raw.isdigit() or len(raw) > 18:
        raise InvalidArgument.field(
            "transaction", f"must look like transactions/{{number}}, got {name[:80]!r}"
        )
    return int(raw)


def _recipient_message(recipient: settlement.Recipient) -> internal_pb2.SettlementRecipient:
    return internal_pb2.SettlementRecipient(payer=recipient.payer, currency=recipient.currency)


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

    async def _period(self, request: internal_pb2.SettlementPeriod) -> settlement.Period:
        """The request's issuer and month, validated; the issuer must be the operator or a partner."""
        parse_name(request.issuer, "tenants", "period.issuer")
        settlement.parse_month(request.month, "period.month")
        zone = validation.time_zone(request.time_zone, "period.time_zone")
        try:
            issuer = await self.rt.directory.owner(request.issuer)
        except NotFound:
            raise NotFound(request.issuer) from None
        if issuer.kind not in invoices.ISSUER_KINDS:
            raise InvalidArgument.field("period.issuer", "the issuer must be the operator or a partner")
        return settlement.Period(issuer, request.month, zone)

    async def ListSettlementRecipients(
        self, request: internal_pb2.ListSettlementRecipientsRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.ListSettlementRecipientsResponse:
        """The distinct payers (and currencies) of the issuer's open charge records of the month
        (`billing.settlement`); a record's settlement month is the month it was recorded in, in
        the issuer's time zone (see `wattlane.billing.settlement`)."""
        caller = current_caller()
        caller.require_service_scope(scopes.BILLING_SETTLEMENT)
        period = await self._period(request.period)
        page = parse_page(
            request.page_size,
            request.page_token,
            caller=caller.principal.caller_key,
            method="ListSettlementRecipients",
            query=(request.period.issuer, request.period.month, period.time_zone),
            default=settlement.MAX_RECIPIENTS,
            maximum=1000,
        )
        async with self.rt.db.reader() as session:
            found, token = await settlement.recipients(session, period, page)
        return internal_pb2.ListSettlementRecipientsResponse(
            recipients=[_recipient_message(r) for r in found], next_page_token=token
        )

    async def SettleRecipients(
        self, request: internal_pb2.SettleRecipientsRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb2.SettleRecipientsResponse:
        """Invoices each recipient's open charge records of the month, once (`billing.settlement`):
        one transaction per recipient claims the records, writes the lines summed per tariff
        version and finalizes the invoice; a re-run returns the invoice made the first time."""
        current_caller().require_service_scope(scopes.BILLING_SETTLEMENT)
        period = await self._period(request.period)
        wanted = settlement.check_recipients([(r.payer, r.currency) for r in request.recipients])
        vat_country = validation.country(request.vat_country, "vat_country")
        today = utcnow().astimezone(ZoneInfo(period.time_zone)).date()
        out = []
        for recipient in wanted:
            out.append(await self._settle_one(period, recipient, vat_country, today))
        return internal_pb2.SettleRecipientsResponse(settled=out)

    async def _settle_one(
        self, period: settlement.Period, recipient: settlement.Recipient, vat_country: str, today: dt.date
    ) -> internal_pb2.SettledRecipient:
        message = internal_pb2.SettledRecipient(recipient=_recipient_message(recipient))
        async with self.rt.db.reader() as session:
            done = await settlement.existing(session, period, recipient)
        if done is None:
            try:
                to = await self.rt.directory.owner(recipient.payer)
            except NotFound:
                message.skipped_reason = f"{recipient.payer} no longer exists; its records stay open"
                return message
            try:
                async with self.rt.db.transaction() as session:
                    done = await settlement.settle(
                        session, period, recipient, to, vat_country=vat_country, today=today
                    )
                    if done.invoice is not None and done.created:
                        await self.rt.audit.record(
                            session,
                            resource=invoices.invoice_name(done.invoice.id),
                            tenant_path=period.issuer.path,
                            action="settle",
                            changes={"month": period.month, "payer": recipient.payer},
                        )
            except IntegrityError:  # a concurrent run made it first: ours rolled back whole
                async with self.rt.db.reader() as session:
                    done = await settlement.existing(session, period, recipient)
                if done is None:
                    raise
        if done.invoice is not None:
            message.invoice = invoices.invoice_name(done.invoice.id)
            message.number = done.invoice.number
        message.charge_records = done.charge_records
        message.created = done.created
        return message
