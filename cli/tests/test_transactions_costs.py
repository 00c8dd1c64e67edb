"""`wattlane transactions`: the cost in force from a transaction's charge records (a correction
is a credit plus a new record) and the cost columns appended to the CSMS's CSV."""

from __future__ import annotations

from decimal import Decimal

from wattlane.api.billing.v1 import charge_records_pb2, tariffs_pb2
from wattlane.api.csms.v1 import transactions_pb2
from wattlane.cli.commands.transactions import COST_COLUMNS, Cost, costs_of, meter_rows, with_costs

R = charge_records_pb2.ChargeRecord


def _record(name: str, transaction: str, kind: int, excl: str, incl: str, second: int) -> R:
    record = R(
        name=name,
        transaction=transaction,
        kind=kind,  # type: ignore[arg-type]
        currency="EUR",
        total_cost=tariffs_pb2.Price(excl_vat=excl, incl_vat=incl),
    )
    record.create_time.seconds = second
    return record


def test_a_corrected_record_costs_what_the_new_record_says() -> None:
    records = [
        _record("chargeRecords/b", "transactions/1", R.CREDIT, "-3.00", "-3.63", 2),
        _record("chargeRecords/c", "transactions/1", R.DEBIT, "2.50", "3.025", 3),
        _record("chargeRecords/a", "transactions/1", R.DEBIT, "3.00", "3.63", 1),
        _record("chargeRecords/d", "transactions/2", R.DEBIT, "1.20", "", 1),  # no VAT rate known
    ]
    costs = costs_of(records)
    assert costs["transactions/1"] == Cost("EUR", Decimal("2.50"), Decimal("3.025"), "chargeRecords/c")
    assert costs["transactions/2"] == Cost("EUR", Decimal("1.20"), None, "chargeRecords/d")


def test_cost_columns_are_appended_and_empty_without_a_record() -> None:
    rows = [["transaction", "energy_wh"], ["transactions/1", "800"], ["transactions/9", "100"]]
    costs = {"transactions/1": Cost("EUR", Decimal("0.24"), Decimal("0.2904"), "chargeRecords/a")}
    assert with_costs(rows, costs, header=True).splitlines() == [
        ",".join(["transaction", "energy_wh", *COST_COLUMNS]),
        "transactions/1,800,EUR,0.24,0.2904,chargeRecords/a",
        "transactions/9,100,,,,",
    ]
    assert with_costs(rows[1:], None, header=False).splitlines()[0] == "transactions/1,800,,,,"


def test_show_lists_each_meter_value() -> None:
    transaction = transactions_pb2.Transaction(
        meter_values=[
            transactions_pb2.MeterValue(energy_wh=1200, power_w=7400, current_a=32.0, soc_percent=41.5),
            transactions_pb2.MeterValue(energy_wh=2400),
        ]
    )
    transaction.meter_values[0].time.FromJsonString("2026-12-07T08:00:00Z")
    rows = meter_rows(transaction)
    assert rows[0] == ("2026-12-07 08:00:00", "1200", "7400", "32", "41.5")
    assert rows[1] == ("-", "2400", "-", "-", "-")
