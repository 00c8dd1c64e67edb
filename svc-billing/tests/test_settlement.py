"""The settlement's internal RPCs: ListSettlementRecipients names the payers of an issuer's open
charge records of a month (by the month each was recorded in, in the issuer's zone: a late
record goes to the next month), SettleRecipients invoices each once (lines summed per tariff
version, every record on exactly one invoice, numbers gapless), and a re-run or a concurrent run
makes nothing new."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import grpc
import pytest
from sqlalchemy import func, select

from wattlane.api.billing.v1 import internal_pb2, tariffs_pb2
from wattlane.billing.models import ChargeRecordRow, InvoiceLineRow, InvoiceRow
from wattlane.billing.service_testing import (  # noqa: F401 (a fixture)
    Billing,
    billing_fixture,
    energy_tariff,
    recorded_at,
)
from wattlane.billing.testing import local
from wattlane.contracts import scopes
from wattlane.core.testing.fake_identity import FakeUser

ZONE = "Europe/Brussels"


def period(billing: Billing, month: str, issuer: str = "") -> internal_pb2.SettlementPeriod:
    return internal_pb2.SettlementPeriod(issuer=issuer or billing.partner.name, month=month, time_zone=ZONE)


async def _tariff(billing: Billing, price: str = "0.30") -> tariffs_pb2.Tariff:
    created: tariffs_pb2.Tariff = await billing.client(billing.admin).tariffs.CreateTariff(
        tariffs_pb2.CreateTariffRequest(parent=billing.org.name, tariff=energy_tariff(price, vat="21"))
    )
    return created


async def _recipients(billing: Billing, month: str, page_size: int = 0) -> list[tuple[str, str]]:
    internal = billing.service_client("worker", scopes.BILLING_SETTLEMENT).internal
    out, token = [], ""
    while True:
        response = await internal.ListSettlementRecipients(
            internal_pb2.ListSettlementRecipientsRequest(
                period=period(billing, month), page_size=page_size, page_token=token
            )
        )
        out += [(r.payer, r.currency) for r in response.recipients]
        if not (token := response.next_page_token):
            return out


async def _settle(
    billing: Billing, month: str, recipients: list[tuple[str, str]]
) -> list[internal_pb2.SettledRecipient]:
    internal = billing.service_client("worker", scopes.BILLING_SETTLEMENT).internal
    response = await internal.SettleRecipients(
        internal_pb2.SettleRecipientsRequest(
            period=period(billing, month),
            recipients=[internal_pb2.SettlementRecipient(payer=p, currency=c) for p, c in recipients],
            vat_country="BE",
        )
    )
    return list(response.settled)


async def _refused(call: object, code: grpc.StatusCode, field: str = "") -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code() == code, caught.value.details()
    assert field in (caught.value.details() or "")


async def test_the_settlement_rpcs_need_the_settlement_scope_and_name_bad_fields(billing: Billing) -> None:
    listing = internal_pb2.ListSettlementRecipientsRequest(period=period(billing, "2026-11"))
    for internal in (
        billing.client(billing.admin).internal,
        billing.service_client("worker", scopes.BILLING_RECORDS).internal,
    ):
        await _refused(internal.ListSettlementRecipients(listing), grpc.StatusCode.PERMISSION_DENIED)
        await _refused(
            internal.SettleRecipients(
                internal_pb2.SettleRecipientsRequest(period=period(billing, "2026-11"))
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
    internal = billing.service_client("worker", scopes.BILLING_SETTLEMENT).internal
    bad = grpc.StatusCode.INVALID_ARGUMENT
    for wrong, field in (
        (
            internal_pb2.SettlementPeriod(issuer=billing.partner.name, month="2026-13", time_zone=ZONE),
            "period.month",
        ),
        (
            internal_pb2.SettlementPeriod(issuer=billing.partner.name, month="2026-11", time_zone="Mars/X"),
            "period.time_zone",
        ),
        (internal_pb2.SettlementPeriod(issuer="users/1", month="2026-11", time_zone=ZONE), "period.issuer"),
        (period(billing, "2026-11", issuer=billing.org.name), "period.issuer"),  # not an issuer
    ):
        await _refused(
            internal.ListSettlementRecipients(internal_pb2.ListSettlementRecipientsRequest(period=wrong)),
            bad,
            field,
        )
    await _refused(
        internal.ListSettlementRecipients(
            internal_pb2.ListSettlementRecipientsRequest(
                period=period(billing, "2026-11", issuer="tenants/gone")
            )
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    too_many = [internal_pb2.SettlementRecipient(payer=f"users/{i}", currency="EUR") for i in range(501)]
    for recipients, vat, field in (
        (too_many, "BE", "recipients"),
        ([internal_pb2.SettlementRecipient(payer="TAG1", currency="EUR")], "BE", "recipients[0].payer"),
        ([internal_pb2.SettlementRecipient(payer="users/1", currency="eur")], "BE", "recipients[0].currency"),
        ([], "Belgium", "vat_country"),
    ):
        request = internal_pb2.SettleRecipientsRequest(
            period=period(billing, "2026-11"), recipients=recipients, vat_country=vat
        )
        await _refused(internal.SettleRecipients(request), bad, field)


async def test_a_month_is_invoiced_once_per_payer_and_a_late_record_goes_to_the_next_month(
    billing: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    tariff = await _tariff(billing)
    cardholder, card_owner = f"users/{billing.sibling_admin.id}", billing.sibling.name
    november = local("2026-11-20 10:00", ZONE)
    for i in range(1, 4):  # the cardholder pays 3 sessions, 10 kWh each at 0.30
        await recorded_at(billing, monkeypatch, i, november, rate_plan=tariff.name)
    for i in range(4, 6):  # a roaming card: its party pays
        await recorded_at(billing, monkeypatch, i, november, rate_plan=tariff.name, payer="roaming")
    await recorded_at(billing, monkeypatch, 6, november, rate_plan=tariff.name, payer="free")
    # The last session of November handed over just after midnight in Brussels (still 30
    # November in UTC): December's.
    late = local("2026-12-01 00:10", ZONE)
    await recorded_at(billing, monkeypatch, 7, late, rate_plan=tariff.name)

    recipients = await _recipients(billing, "2026-11", page_size=1)  # paged one by one
    assert recipients == sorted([(card_owner, "EUR"), (cardholder, "EUR")])
    settled = await _settle(billing, "2026-11", recipients)
    assert [s.created for s in settled] == [True, True]
    assert sorted(s.charge_records for s in settled) == [2, 3]
    assert sorted(s.number for s in settled) == ["INV-2026-000001", "INV-2026-000002"]
    async with billing.service.rt.db.reader() as session:
        rows = {r.id: r for r in (await session.execute(select(InvoiceRow))).scalars()}
        lines = list((await session.execute(select(InvoiceLineRow))).scalars())
    by_payer = {s.recipient.payer: rows[s.invoice.removeprefix("invoices/")] for s in settled}
    user_invoice = by_payer[cardholder]
    assert user_invoice.status == "FINALIZED" and user_invoice.issuer_id == billing.partner.id
    assert user_invoice.recipient_kind == "PRIVATE" and user_invoice.recipient_path == billing.sibling.path
    assert (user_invoice.net_minor, user_invoice.vat_minor) == (900, 189)  # 3 x 3.00, 21 % on the sum
    (line,) = [x for x in lines if x.invoice_id == user_invoice.id]
    assert (Decimal(line.unit_price), line.vat_rate, line.vat_country) == (Decimal("9"), "21", "BE")
    assert "3 sessions, 30 kWh" in line.description
    assert by_payer[card_owner].recipient_kind == "ORGANIZATION" and by_payer[card_owner].net_minor == 600

    # A re-run makes nothing new and returns the same invoices; nothing is left to list.
    again = await _settle(billing, "2026-11", recipients)
    assert [(s.invoice, s.number, s.created) for s in again] == [
        (s.invoice, s.number, False) for s in settled
    ]
    assert await _recipients(billing, "2026-11") == []
    # December holds the late record.
    assert await _recipients(billing, "2026-12") == [(cardholder, "EUR")]
    (december,) = await _settle(billing, "2026-12", [(cardholder, "EUR")])
    assert december.charge_records == 1 and december.number == "INV-2026-000003"
    # The count check: every invoiced record on exactly one invoice, the free one on none.
    async with billing.service.rt.db.reader() as session:
        on = dict(
            (await session.execute(select(ChargeRecordRow.transaction_id, ChargeRecordRow.invoice_id))).all()
        )
    assert on[6] == "" and all(on[i] for i in (1, 2, 3, 4, 5, 7))
    assert len({on[i] for i in (1, 2, 3)} | {on[4], on[5], on[7]}) == 3


async def test_two_tariff_versions_make_two_lines_and_records_already_invoiced_are_skipped(
    billing: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap, dear = await _tariff(billing, "0.30"), await _tariff(billing, "0.50")
    at = local("2026-11-03 08:00", ZONE)
    await recorded_at(billing, monkeypatch, 1, at, rate_plan=cheap.name)
    await recorded_at(billing, monkeypatch, 2, at, rate_plan=dear.name)
    await recorded_at(billing, monkeypatch, 3, at, rate_plan=dear.name)
    cardholder = f"users/{billing.sibling_admin.id}"
    (settled,) = await _settle(billing, "2026-11", [(cardholder, "EUR")])
    assert settled.charge_records == 3
    async with billing.service.rt.db.reader() as session:
        lines = list(
            (
                await session.execute(
                    select(InvoiceLineRow)
                    .where(InvoiceLineRow.invoice_id == settled.invoice.removeprefix("invoices/"))
                    .order_by(InvoiceLineRow.net_minor)
                )
            ).scalars()
        )
    assert [line.net_minor for line in lines] == [300, 1000]
    # Another month's run for the same payer finds no open record: none is invoiced twice.
    (later,) = await _settle(billing, "2026-12", [(cardholder, "EUR")])
    assert later.invoice == "" and later.charge_records == 0


async def test_concurrent_runs_of_a_recipient_make_one_invoice(
    billing: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    tariff = await _tariff(billing)
    for i in range(1, 6):
        await recorded_at(billing, monkeypatch, i, local("2026-11-10 12:00", ZONE), rate_plan=tariff.name)
    cardholder = f"users/{billing.sibling_admin.id}"
    runs = await asyncio.gather(*(_settle(billing, "2026-11", [(cardholder, "EUR")]) for _ in range(4)))
    assert len({run[0].invoice for run in runs}) == 1
    assert sorted(run[0].created for run in runs) == [False, False, False, True]
    async with billing.service.rt.db.reader() as session:
        assert (await session.execute(select(func.count()).select_from(InvoiceRow))).scalar_one() == 1


async def test_a_payer_gone_is_skipped_and_its_records_stay_open_for_the_next_run(
    billing: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    tariff = await _tariff(billing)
    ghost = FakeUser("ghost", billing.sibling, "")  # identity does not know them (deleted since)
    await recorded_at(
        billing, monkeypatch, 1, local("2026-11-10 12:00", ZONE), rate_plan=tariff.name, cardholder=ghost
    )
    assert await _recipients(billing, "2026-11") == [("users/ghost", "EUR")]
    (settled,) = await _settle(billing, "2026-11", [("users/ghost", "EUR")])
    assert settled.invoice == "" and "users/ghost no longer exists" in settled.skipped_reason
    # Never dropped: December's run lists it again.
    assert await _recipients(billing, "2026-12") == [("users/ghost", "EUR")]
