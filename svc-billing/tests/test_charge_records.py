"""ChargeRecordService: records visible like their transactions (station owner's subtree, card
owner's organization, cardholder), CSV export, corrections; and the isolation harness over every
public billing RPC (a sibling sees NOT_FOUND)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from wattlane.api.billing.v1 import charge_records_pb2, internal_pb2, tariffs_pb2
from wattlane.billing.service_testing import (  # noqa: F401 (a fixture)
    START,
    Billing,
    billing_fixture,
    energy_tariff,
    transaction,
)
from wattlane.contracts import scopes
from wattlane.core.testing.fake_identity import FakeGrant, FakeTenant, FakeUser
from wattlane.core.testing.isolation import Actor, Grant, ListProbe, Probe, Target, check_isolation
from wattlane.core.timestamps import to_timestamp

RECORDS_READ = "records.read"  # the harness's name for "transactions.read or billing.read"


async def record(billing: Billing, transaction_id: int) -> charge_records_pb2.ChargeRecord:
    worker = billing.service_client("worker", scopes.BILLING_RECORDS).internal
    sealed: charge_records_pb2.ChargeRecord = await worker.RecordCharge(
        internal_pb2.RecordChargeRequest(transaction=f"transactions/{transaction_id}")
    )
    return sealed


async def names(billing: Billing, who: FakeUser, parent: str = "") -> list[str]:
    listed = await billing.client(who).records.ListChargeRecords(
        charge_records_pb2.ListChargeRecordsRequest(parent=parent)
    )
    return [r.name for r in listed.charge_records]


async def test_records_are_visible_to_owner_card_owner_and_cardholder_only(billing: Billing) -> None:
    tariff = await billing.client(billing.admin).tariffs.CreateTariff(
        tariffs_pb2.CreateTariffRequest(parent=billing.org.name, tariff=energy_tariff())
    )
    # At the org's station, with a card of the sibling held by the sibling's admin.
    transaction(billing, 21, rate_plan=tariff.name)
    sealed = await record(billing, 21)
    cardholder = billing.identity.user(billing.sibling)  # no permissions at all
    billing.csms.transactions[22] = transaction(billing, 22)
    billing.csms.transactions[22].cardholder = f"users/{cardholder.id}"
    billing.csms.transactions[22].card_owner = ""
    held = await record(billing, 22)
    other_org = billing.identity.tenant(billing.partner)
    stranger = billing.identity.user(
        other_org, {"billing.read": [other_org], "transactions.read": [other_org]}
    )
    assert set(await names(billing, billing.admin)) == {sealed.name, held.name}  # station owner
    assert set(await names(billing, billing.outsider)) == {sealed.name, held.name}  # transactions.read
    assert await names(billing, billing.sibling_admin) == [sealed.name]  # card owner + cardholder
    assert await names(billing, cardholder) == [held.name]  # only their own
    assert await names(billing, stranger) == []
    assert await names(billing, billing.admin, parent=billing.sibling.name) == [sealed.name]
    get = charge_records_pb2.GetChargeRecordRequest(name=held.name)
    assert (await billing.client(cardholder).records.GetChargeRecord(get)).name == held.name
    for who in (stranger, billing.sibling_admin):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await billing.client(who).records.GetChargeRecord(get)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    # Paging: newest first, one at a time.
    client = billing.client(billing.admin).records
    first = await client.ListChargeRecords(charge_records_pb2.ListChargeRecordsRequest(page_size=1))
    second = await client.ListChargeRecords(
        charge_records_pb2.ListChargeRecordsRequest(page_size=1, page_token=first.next_page_token)
    )
    assert [r.name for r in [*first.charge_records, *second.charge_records]] == [held.name, sealed.name]
    assert not second.next_page_token


async def test_export_streams_csv_of_the_visible_records(billing: Billing) -> None:
    tariff = await billing.client(billing.admin).tariffs.CreateTariff(
        tariffs_pb2.CreateTariffRequest(parent=billing.org.name, tariff=energy_tariff("0.25"))
    )
    transaction(billing, 31, rate_plan=tariff.name)
    transaction(billing, 32, payer="free")
    sealed = [await record(billing, 31), await record(billing, 32)]
    chunks = billing.client(billing.admin).records.ExportChargeRecords(
        charge_records_pb2.ExportChargeRecordsRequest(filter="payer_kind = CARDHOLDER")
    )
    text = b"".join([c.csv async for c in chunks]).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["name"] for r in rows] == [sealed[0].name]
    assert rows[0]["total_excl_vat"] == "2.50" and rows[0]["currency"] == "EUR"
    assert rows[0]["tariff"] == tariff.name and rows[0]["payer_kind"] == "CARDHOLDER"
    empty = billing.client(billing.viewer).records.ExportChargeRecords(
        charge_records_pb2.ExportChargeRecordsRequest(parent=billing.sibling.name, filter="kind = CREDIT")
    )
    assert b"".join([c.csv async for c in empty]).decode().startswith("name,transaction,kind")


# --- isolation -----------------------------------------------------------------------------------


def _actor(billing: Billing, label: str, user: FakeUser, grants: dict[FakeTenant, set[str]]) -> Actor:
    expanded = []
    for tenant, permissions in grants.items():
        held = set(permissions)
        if held & {"billing.read", "transactions.read"}:
            held.add(RECORDS_READ)
        expanded.append(Grant(tenant.path, True, frozenset(held)))
    return Actor(label, billing.client(user), user.name, expanded)


def _user(billing: Billing, home: FakeTenant, grants: dict[FakeTenant, set[str]]) -> FakeUser:
    spec: dict[str, list[FakeTenant | FakeGrant]] = {}
    for tenant, permissions in grants.items():
        for permission in permissions:
            spec.setdefault(permission, []).append(tenant)
    return billing.identity.user(home, spec)


async def test_isolation_over_every_billing_rpc(billing: Billing) -> None:
    org, sibling, partner = billing.org, billing.sibling, billing.partner
    other_partner = billing.identity.tenant(billing.identity.root, "PARTNER")
    other_org = billing.identity.tenant(other_partner)
    paths = {t.id: t.path for t in billing.identity.tenants.values()}
    owners = {org.id: billing.admin, sibling.id: billing.sibling_admin}
    targets: list[Target] = []
    ids = iter(range(100, 200))
    for owner in (org, sibling):
        admin = billing.client(owners[owner.id])
        tariff = await admin.tariffs.CreateTariff(
            tariffs_pb2.CreateTariffRequest(parent=owner.name, tariff=energy_tariff())
        )
        targets.append(Target(tariff.name, "tariffs", owner.path))
        targets.append(Target(owner.name, "tenants", owner.path))
        transaction_id = next(ids)
        tx = transaction(billing, transaction_id, rate_plan=tariff.name)
        tx.owner, tx.card_owner, tx.cardholder = owner.name, "", ""  # only the owner's business
        sealed = await record(billing, transaction_id)
        targets.append(Target(sealed.name, "chargeRecords", owner.path))
    worlds: list[tuple[str, FakeTenant, dict[FakeTenant, set[str]]]] = [
        ("org admin", org, {org: {"billing.read", "billing.manage", "transactions.read"}}),
        ("org viewer", org, {org: {"billing.read"}}),
        ("org operations", org, {org: {"transactions.read"}}),
        ("org member", org, {org: set()}),
        ("sibling admin", sibling, {sibling: {"billing.read", "billing.manage"}}),
        ("partner reader", partner, {partner: {"billing.read"}}),
        (
            "other partner admin",
            other_org,
            {other_partner: {"billing.read", "billing.manage", "transactions.read"}},
        ),
    ]
    actors = []
    for label, home, grants in worlds:
        user = _user(billing, home, {t: p for t, p in grants.items() if p})
        actors.append(_actor(billing, label, user, {t: p for t, p in grants.items() if p}))
    mask = FieldMask(paths=["display_name"])
    start, stop = to_timestamp(START), to_timestamp(START.replace(hour=18))
    probes = [
        Probe("GetTariff", "tariffs", "billing.read", "read",
              lambda a, t: a.client.tariffs.GetTariff(tariffs_pb2.GetTariffRequest(name=t.name))),
        Probe("ListTariffVersions", "tariffs", "billing.read", "read",
              lambda a, t: a.client.tariffs.ListTariffVersions(
                  tariffs_pb2.ListTariffVersionsRequest(name=t.name))),
        Probe("PreviewPrice", "tariffs", "billing.read", "read",
              lambda a, t: a.client.tariffs.PreviewPrice(
                  tariffs_pb2.PreviewPriceRequest(
                      tariff=t.name, time_zone="UTC", energy_wh=1000, start_time=start, stop_time=stop))),
        Probe("UpdateTariff", "tariffs", "billing.manage", "write",
              lambda a, t: a.client.tariffs.UpdateTariff(tariffs_pb2.UpdateTariffRequest(
                  tariff=tariffs_pb2.Tariff(name=t.name, display_name="x"), update_mask=mask))),
        Probe("DeleteTariff", "tariffs", "billing.manage", "write",
              lambda a, t: a.client.tariffs.DeleteTariff(tariffs_pb2.DeleteTariffRequest(name=t.name))),
        Probe("CreateTariff", "tenants", "billing.manage", "write",
              lambda a, t: a.client.tariffs.CreateTariff(
                  tariffs_pb2.CreateTariffRequest(parent=t.name, tariff=energy_tariff()))),
        Probe("ListTariffs(parent)", "tenants", "billing.read", "read",
              lambda a, t: a.client.tariffs.ListTariffs(tariffs_pb2.ListTariffsRequest(parent=t.name))),
        Probe("GetChargeRecord", "chargeRecords", RECORDS_READ, "read",
              lambda a, t: a.client.records.GetChargeRecord(
                  charge_records_pb2.GetChargeRecordRequest(name=t.name))),
        Probe("CorrectChargeRecord", "chargeRecords", "billing.manage", "write",
              lambda a, t: a.client.records.CorrectChargeRecord(
                  charge_records_pb2.CorrectChargeRecordRequest(name=t.name))),
    ]  # fmt: skip

    async def list_tariffs(actor: Actor) -> Iterable[tuple[str, str]]:
        reply = await actor.client.tariffs.ListTariffs(tariffs_pb2.ListTariffsRequest())
        return [(t.name, paths[t.parent.removeprefix("tenants/")]) for t in reply.tariffs]

    async def list_records(actor: Actor) -> Iterable[tuple[str, str]]:
        reply = await actor.client.records.ListChargeRecords(charge_records_pb2.ListChargeRecordsRequest())
        return [(r.name, paths[r.owner.removeprefix("tenants/")]) for r in reply.charge_records]

    async def export_records(actor: Actor) -> Iterable[tuple[str, str]]:
        chunks = actor.client.records.ExportChargeRecords(charge_records_pb2.ExportChargeRecordsRequest())
        text = b"".join([c.csv async for c in chunks]).decode()
        return [
            (r["name"], paths[r["owner"].removeprefix("tenants/")]) for r in csv.DictReader(io.StringIO(text))
        ]

    lists = [
        ListProbe("ListTariffs", list_tariffs),
        ListProbe("ListChargeRecords", list_records),
        ListProbe("ExportChargeRecords", export_records),
    ]
    before = await list_tariffs(actors[-2])
    violations = await check_isolation(actors, targets, probes, lists)
    assert violations == [], "\n".join(map(str, violations))
    assert await list_tariffs(actors[-2]) == before  # the world is unchanged
    assert len(list(before)) == 2


async def test_a_correction_is_a_credit_then_a_new_debit_never_an_edit(billing: Billing) -> None:
    admin = billing.client(billing.admin)
    wrong = await admin.tariffs.CreateTariff(
        tariffs_pb2.CreateTariffRequest(parent=billing.org.name, tariff=energy_tariff("0.90"))
    )
    right = await admin.tariffs.CreateTariff(
        tariffs_pb2.CreateTariffRequest(parent=billing.org.name, tariff=energy_tariff("0.30"))
    )
    transaction(billing, 41, rate_plan=wrong.name)
    original = await record(billing, 41)
    assert original.total_cost.excl_vat == "9.00"
    request = charge_records_pb2.CorrectChargeRecordRequest(
        name=original.name, tariff=right.name, request_id="c-1"
    )
    corrected = await admin.records.CorrectChargeRecord(request)
    assert (await admin.records.CorrectChargeRecord(request)) == corrected  # replayed, not redone
    credit, debit = corrected.credit, corrected.debit
    assert credit.kind == charge_records_pb2.ChargeRecord.CREDIT and credit.corrects == original.name
    assert credit.total_cost.excl_vat == "-9.00" and Decimal(credit.total_cost.incl_vat) == Decimal("-10.89")
    assert debit.kind == charge_records_pb2.ChargeRecord.DEBIT and debit.corrects == original.name
    assert debit.total_cost.excl_vat == "3.00" and debit.tariff.name == right.name
    # The original is unchanged, and only the newest DEBIT can be corrected again.
    again = await admin.records.GetChargeRecord(charge_records_pb2.GetChargeRecordRequest(name=original.name))
    assert again == original
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.records.CorrectChargeRecord(
            charge_records_pb2.CorrectChargeRecordRequest(name=original.name)
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    listed = await admin.records.ListChargeRecords(
        charge_records_pb2.ListChargeRecordsRequest(filter='transaction = "transactions/41"')
    )
    assert [r.name for r in listed.charge_records] == [debit.name, credit.name, original.name]
    # The worker's repeated delivery still returns the delivered record and adds nothing.
    assert (await record(billing, 41)).name == original.name
