"""BillingInternalService: only service tokens with the named scope; ResolveTariff, PriceSession
and RecordCharge (exactly one sealed record per transaction, priced from the version in force at
its start, even once the tariff is deleted)."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from wattlane.api.billing.v1 import charge_records_pb2, internal_pb2, tariffs_pb2
from wattlane.api.common.v1 import audit_pb2, audit_pb2_grpc
from wattlane.api.csms.v1 import transactions_pb2
from wattlane.billing.service_testing import (  # noqa: F401 (a fixture)
    START,
    Billing,
    billing_fixture,
    energy_tariff,
    transaction,
)
from wattlane.contracts import scopes
from wattlane.core.client import channel
from wattlane.core.timestamps import to_timestamp

UTC = dt.UTC


async def create(billing: Billing, tariff: tariffs_pb2.Tariff | None = None) -> tariffs_pb2.Tariff:
    created: tariffs_pb2.Tariff = await billing.client(billing.admin).tariffs.CreateTariff(
        tariffs_pb2.CreateTariffRequest(parent=billing.org.name, tariff=tariff or energy_tariff())
    )
    return created


async def denied(call: object, code: grpc.StatusCode = grpc.StatusCode.PERMISSION_DENIED) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code() == code, caught.value.details()


async def test_internal_rpcs_need_a_service_token_with_their_scope(billing: Billing) -> None:
    tariff = await create(billing)
    resolve = internal_pb2.ResolveTariffRequest(name=tariff.name, owner_path=billing.org.path)
    record = internal_pb2.RecordChargeRequest(transaction="transactions/1")
    price = internal_pb2.PriceSessionRequest(
        tariff=tariff.name, readings=tariffs_pb2.SessionReadings(start_time=to_timestamp(START))
    )
    user = billing.client(billing.admin).internal
    wrong = billing.service_client("assets", scopes.BILLING_PRICING).internal
    await denied(user.ResolveTariff(resolve))
    await denied(user.RecordCharge(record))
    await denied(user.PriceSession(price))
    await denied(billing.service_client("csms", scopes.BILLING_TARIFFS).internal.PriceSession(price))
    await denied(wrong.ResolveTariff(resolve))
    await denied(wrong.RecordCharge(record))


async def test_resolve_tariff_sees_the_owner_and_above_only(billing: Billing) -> None:
    tariff = await create(billing, energy_tariff("0.35"))
    assets = billing.service_client("assets", scopes.BILLING_TARIFFS).internal
    reference = await assets.ResolveTariff(
        internal_pb2.ResolveTariffRequest(name=tariff.name, owner_path=f"{billing.org.path}L1/")
    )
    assert reference.version == 1 and reference.currency == "EUR"
    assert Decimal(reference.max_energy_price) == Decimal("0.35")
    assert reference.owner_path == billing.org.path and reference.display_name == "Standard"
    for path in (billing.sibling.path, billing.partner.path):
        await denied(
            assets.ResolveTariff(internal_pb2.ResolveTariffRequest(name=tariff.name, owner_path=path)),
            grpc.StatusCode.NOT_FOUND,
        )
    await denied(
        assets.ResolveTariff(
            internal_pb2.ResolveTariffRequest(name="tariffs/nope", owner_path=billing.org.path)
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    rate = energy_tariff("0.20")
    rate.purpose = tariffs_pb2.HOME_REIMBURSEMENT
    reimbursement = await create(billing, rate)
    await denied(
        assets.ResolveTariff(
            internal_pb2.ResolveTariffRequest(name=reimbursement.name, owner_path=billing.org.path)
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await billing.client(billing.admin).tariffs.DeleteTariff(
        tariffs_pb2.DeleteTariffRequest(name=tariff.name)
    )
    await denied(
        assets.ResolveTariff(
            internal_pb2.ResolveTariffRequest(name=tariff.name, owner_path=billing.org.path)
        ),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_price_session_prices_a_running_session_up_to_until(billing: Billing) -> None:
    tariff = await create(billing, energy_tariff("0.50", vat=None))
    csms = billing.service_client("csms", scopes.BILLING_PRICING).internal
    readings = tariffs_pb2.SessionReadings(
        start_time=to_timestamp(START),
        energy=[
            tariffs_pb2.EnergySample(time=to_timestamp(START), wh=0),
            tariffs_pb2.EnergySample(time=to_timestamp(START + dt.timedelta(hours=1)), wh=4000),
        ],
    )
    priced = await csms.PriceSession(
        internal_pb2.PriceSessionRequest(
            tariff=tariff.name,
            time_zone="Europe/Amsterdam",
            readings=readings,
            until=to_timestamp(START + dt.timedelta(hours=1)),
        )
    )
    assert Decimal(priced.total_cost.excl_vat) == Decimal("2.00")
    assert priced.total_cost.incl_vat == ""  # no VAT rate given: unknown, not 0%
    # A tariff deleted mid-session still prices the session that started with it.
    await billing.client(billing.admin).tariffs.DeleteTariff(
        tariffs_pb2.DeleteTariffRequest(name=tariff.name)
    )
    running = await csms.PriceSession(
        internal_pb2.PriceSessionRequest(tariff=tariff.name, readings=readings, until=to_timestamp(START))
    )
    assert running.total_cost.excl_vat == "0" and running.time_zone == "UTC"
    bad = internal_pb2.PriceSessionRequest(tariff=tariff.name, time_zone="Nowhere/Land", readings=readings)
    await denied(csms.PriceSession(bad), grpc.StatusCode.INVALID_ARGUMENT)


async def test_record_charge_seals_one_record_per_transaction(billing: Billing) -> None:
    tariff = await create(billing, energy_tariff("0.30", vat="21"))
    transaction(billing, 7, rate_plan=tariff.name)
    worker = billing.service_client("worker", scopes.BILLING_RECORDS).internal
    request = internal_pb2.RecordChargeRequest(transaction="transactions/7", workflow_id="handoff-7")
    # Delivered several times at once and again later: one record, the same every time.
    records = await asyncio.gather(*(worker.RecordCharge(request) for _ in range(5)))
    again = await worker.RecordCharge(request)
    assert len({r.name for r in [*records, again]}) == 1
    record = again
    assert record.kind == charge_records_pb2.ChargeRecord.DEBIT
    assert record.transaction == "transactions/7"
    assert record.owner == billing.org.name and record.card_owner == billing.sibling.name
    assert record.payer_kind == charge_records_pb2.CARDHOLDER
    assert record.payer == f"users/{billing.sibling_admin.id}"
    assert record.energy_wh == 10_000 and record.currency == "EUR"
    assert Decimal(record.total_cost.excl_vat) == Decimal("3.00")
    assert Decimal(record.total_cost.incl_vat) == Decimal("3.63")
    assert record.tariff.name == tariff.name and record.tariff.version == 1
    assert record.priced.time_zone == "UTC"  # the CSMS sends no zone yet
    assert not record.home_charging_compensation
    listed = await billing.client(billing.admin).records.ListChargeRecords(
        charge_records_pb2.ListChargeRecordsRequest(filter='transaction = "transactions/7"')
    )
    assert [r.name for r in listed.charge_records] == [record.name]
    reads = billing.csms.reads
    await worker.RecordCharge(request)
    assert billing.csms.reads == reads  # a repeated delivery asks nobody anything


async def test_a_session_at_an_employee_s_home_point_is_home_charging_compensation(
    billing: Billing,
) -> None:
    """The station owner is an employee's home sub-organization (identity says whose): its
    sessions are the home charging the employer reimburses; any other owner's are not."""
    tariff = await create(billing, energy_tariff("0.30"))
    home = billing.identity.tenant(billing.org, "ORGANIZATION", "Home of E", home_of="users/E1")
    at_home = transaction(billing, 31, rate_plan=tariff.name)
    at_home.owner = home.name
    transaction(billing, 32, rate_plan=tariff.name)
    worker = billing.service_client("worker", scopes.BILLING_RECORDS).internal
    record = await worker.RecordCharge(internal_pb2.RecordChargeRequest(transaction="transactions/31"))
    assert record.home_charging_compensation and record.owner == home.name
    assert Decimal(record.total_cost.excl_vat) == Decimal("3.00")  # priced as any other session
    office = await worker.RecordCharge(internal_pb2.RecordChargeRequest(transaction="transactions/32"))
    assert not office.home_charging_compensation


async def test_charging_states_and_the_location_s_zone_from_the_csms_price_the_record(
    billing: Billing,
) -> None:
    parked = tariffs_pb2.PriceComponent(type=tariffs_pb2.PARKING_TIME, price="6.00", vat="21", step_size=1)
    tariff = energy_tariff("0.30")
    tariff.elements[0].price_components.append(parked)
    created = await create(billing, tariff)
    tx = transaction(billing, 13, rate_plan=created.name)  # 10 kWh over two hours from START
    tx.charging_states.add(time=to_timestamp(START), charging=True)
    tx.charging_states.add(time=to_timestamp(START + dt.timedelta(minutes=90)), charging=False)
    tx.time_zone = "Europe/Amsterdam"
    worker = billing.service_client("worker", scopes.BILLING_RECORDS).internal
    record = await worker.RecordCharge(internal_pb2.RecordChargeRequest(transaction="transactions/13"))
    assert record.priced.time_zone == "Europe/Amsterdam"
    assert record.priced.parking_seconds == "1800.000000"
    assert [p.charging for p in record.priced.periods] == [True, False]
    assert Decimal(record.total_cost.excl_vat) == Decimal("3.00") + Decimal("3.00")


async def test_the_version_in_force_at_the_start_prices_even_after_a_change_and_a_delete(
    billing: Billing,
) -> None:
    tariff = await create(billing, energy_tariff("0.30"))
    admin = billing.client(billing.admin)
    later = energy_tariff("0.90")
    later.name = tariff.name
    await admin.tariffs.UpdateTariff(
        tariffs_pb2.UpdateTariffRequest(tariff=later, update_mask=FieldMask(paths=["elements"]))
    )
    await admin.tariffs.DeleteTariff(tariffs_pb2.DeleteTariffRequest(name=tariff.name))
    # The session started before version 2 existed (and before the tariff was deleted).
    transaction(billing, 8, rate_plan=tariff.name)
    worker = billing.service_client("worker", scopes.BILLING_RECORDS).internal
    record = await worker.RecordCharge(internal_pb2.RecordChargeRequest(transaction="transactions/8"))
    assert record.tariff.version == 1
    assert Decimal(record.total_cost.excl_vat) == Decimal("3.00")
    shown = await admin.records.GetChargeRecord(charge_records_pb2.GetChargeRecordRequest(name=record.name))
    assert shown.tariff.elements[0].price_components[0].price == "0.30"  # the snapshot


async def test_no_session_that_starts_after_a_delete_is_priced_with_the_tariff(billing: Billing) -> None:
    tariff = await create(billing)
    await billing.client(billing.admin).tariffs.DeleteTariff(
        tariffs_pb2.DeleteTariffRequest(name=tariff.name)
    )
    now = dt.datetime.now(UTC)
    tx = transaction(billing, 14, rate_plan=tariff.name)  # the station's setting still names it
    tx.start_time.FromDatetime(now)
    tx.stop_time.FromDatetime(now + dt.timedelta(hours=1))
    tx.ClearField("meter_values")
    worker = billing.service_client("worker", scopes.BILLING_RECORDS).internal
    record = await worker.RecordCharge(internal_pb2.RecordChargeRequest(transaction="transactions/14"))
    assert record.total_cost.excl_vat == "0" and not record.HasField("tariff")
    csms = billing.service_client("csms", scopes.BILLING_PRICING).internal
    readings = tariffs_pb2.SessionReadings(start_time=to_timestamp(now))
    await denied(
        csms.PriceSession(internal_pb2.PriceSessionRequest(tariff=tariff.name, readings=readings)),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_a_transaction_without_a_tariff_is_a_zero_cost_record(billing: Billing) -> None:
    transaction(billing, 9, payer="free")
    transaction(billing, 10, rate_plan="ratePlans/legacy", payer="roaming")
    worker = billing.service_client("worker", scopes.BILLING_RECORDS).internal
    free = await worker.RecordCharge(internal_pb2.RecordChargeRequest(transaction="transactions/9"))
    assert free.total_cost.excl_vat == "0" and free.payer_kind == charge_records_pb2.FREE and free.payer == ""
    assert not free.HasField("tariff")
    roaming = await worker.RecordCharge(internal_pb2.RecordChargeRequest(transaction="transactions/10"))
    assert roaming.total_cost.excl_vat == "0" and roaming.payer_kind == charge_records_pb2.ROAMING
    assert roaming.payer == billing.sibling.name
    await denied(
        worker.RecordCharge(internal_pb2.RecordChargeRequest(transaction="transactions/404")),
        grpc.StatusCode.NOT_FOUND,
    )
    await denied(
        worker.RecordCharge(internal_pb2.RecordChargeRequest(transaction="tx/1")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_an_active_transaction_is_not_recorded_and_writes_are_audited(billing: Billing) -> None:
    tx = transaction(billing, 11)
    tx.state = transactions_pb2.Transaction.ACTIVE
    tx.ClearField("stop_time")
    worker = billing.service_client("worker", scopes.BILLING_RECORDS).internal
    await denied(
        worker.RecordCharge(internal_pb2.RecordChargeRequest(transaction="transactions/11")),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    tariff = await create(billing)
    transaction(billing, 12, rate_plan=tariff.name)
    sealed = await worker.RecordCharge(internal_pb2.RecordChargeRequest(transaction="transactions/12"))
    auditor = billing.identity.user(billing.org, {"audit.read": [billing.org]})
    ch = channel(billing.target, token=auditor.token, max_attempts=1)
    try:
        entries = await audit_pb2_grpc.AuditServiceStub(ch).ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(parent=billing.org.name)
        )
    finally:
        await ch.close(None)
    resources = {(e.resource, e.actor.split(":")[0]) for e in entries.audit_entries}
    assert (tariff.name, "user") in resources
    assert (sealed.name, "service") in resources
