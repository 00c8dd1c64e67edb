"""The billing client: billing's public and internal gRPC APIs on one channel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from wattlane.api.billing.v1 import (
    charge_records_pb2,
    charge_records_pb2_grpc,
    internal_pb2,
    internal_pb2_grpc,
    invoices_pb2_grpc,
    tariffs_pb2,
    tariffs_pb2_grpc,
)
from wattlane.core.client import ApiClient
from wattlane.core.timestamps import to_timestamp


@dataclass
class BillingClient(ApiClient):
    """Stubs of billing's APIs (tariffs, charge records, invoices, the internal API), sending `token` as
    the bearer, and typed shortcuts for the internal calls other services make."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.tariffs = tariffs_pb2_grpc.TariffServiceStub(self.channel)
        self.charge_records = charge_records_pb2_grpc.ChargeRecordServiceStub(self.channel)
        self.internal = internal_pb2_grpc.BillingInternalServiceStub(self.channel)
        self.invoices = invoices_pb2_grpc.InvoiceServiceStub(self.channel)

    async def record_charge(self, transaction: str, workflow_id: str = "") -> charge_records_pb2.ChargeRecord:
        """Seal (or fetch, when already sealed) the charge record of the completed transaction
        `transactions/{id}`; `workflow_id` names the delivering workflow (`billing.records`)."""
        request = internal_pb2.RecordChargeRequest(transaction=transaction, workflow_id=workflow_id)
        return await self.internal.RecordCharge(request)

    async def resolve_tariff(
        self, name: str, owner_path: str, at: dt.datetime | None = None
    ) -> internal_pb2.TariffReference:
        """What the tariff reference `tariffs/{id}` in a setting of the tenant at `owner_path`
        means at `at` (default now): NOT_FOUND unless it exists and is visible from there
        (`billing.tariffs`)."""
        request = internal_pb2.ResolveTariffRequest(name=name, owner_path=owner_path, at=to_timestamp(at))
        return await self.internal.ResolveTariff(request)

    async def price_session(
        self,
        tariff: str,
        time_zone: str,
        readings: tariffs_pb2.SessionReadings,
        until: dt.datetime | None = None,
    ) -> tariffs_pb2.PricedSession:
        """Price a session, running (up to `until`, default now) or finished, with the version of
        `tariff` in force at its start in the location's `time_zone` (`billing.pricing`)."""
        request = internal_pb2.PriceSessionRequest(
            tariff=tariff, time_zone=time_zone, readings=readings, until=to_timestamp(until)
        )
        return await self.internal.PriceSession(request)

    async def list_settlement_recipients(
        self, issuer: str, month: str, time_zone: str, page_size: int = 0, page_token: str = ""
    ) -> internal_pb2.ListSettlementRecipientsResponse:
        """One page of the payers (and currencies) of `issuer`'s open charge records of `month`
        (YYYY-MM in `time_zone`) (`billing.settlement`)."""
        period = internal_pb2.SettlementPeriod(issuer=issuer, month=month, time_zone=time_zone)
        request = internal_pb2.ListSettlementRecipientsRequest(
            period=period, page_size=page_size, page_token=page_token
        )
        return await self.internal.ListSettlementRecipients(request)

    async def settle_recipients(
        self,
        issuer: str,
        month: str,
        time_zone: str,
        recipients: Sequence[tuple[str, str]],
        vat_country: str,
    ) -> internal_pb2.SettleRecipientsResponse:
        """Invoice each (payer, currency) recipient's open charge records of `issuer`'s `month`,
        once: a repeat returns the invoices made the first time (`billing.settlement`)."""
        request = internal_pb2.SettleRecipientsRequest(
            period=internal_pb2.SettlementPeriod(issuer=issuer, month=month, time_zone=time_zone),
            recipients=[internal_pb2.SettlementRecipient(payer=p, currency=c) for p, c in recipients],
            vat_country=vat_country,
        )
        return await self.internal.SettleRecipients(request)
