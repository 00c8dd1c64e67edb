"""The settlement schedules the worker makes on start (on the real dev server): one per issuer,
on the 1st at 00:30 in the issuer's zone, made once and updated to the configuration on every
start; the issuers' configuration is checked entry by entry."""

from __future__ import annotations

import secrets
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from wattlane.contracts.settlement import SettlementInput, schedule_id
from wattlane.workflows.settlement.schedule import Issuer, ensure_schedules, parse_issuers


def test_issuers_are_read_entry_by_entry() -> None:
    assert parse_issuers(" tenants/op:Europe/Brussels:be, tenants/p7:Europe/Madrid:ES ,") == [
        Issuer("tenants/op", "Europe/Brussels", "BE"),
        Issuer("tenants/p7", "Europe/Madrid", "ES"),
    ]
    assert parse_issuers("") == []
    for bad, says in (
        ("op:Europe/Brussels:BE", "expected tenants/"),
        ("tenants/op:Mars/Olympus:BE", "unknown time zone"),
        ("tenants/op:Europe/Brussels:Belgium", "not a country code"),
        ("tenants/op:Europe/Brussels", "expected tenants/"),
    ):
        with pytest.raises(ValueError, match=says):
            parse_issuers(bad)


async def test_one_schedule_per_issuer_on_the_1st_at_00_30_in_its_zone(
    temporal_dev: WorkflowEnvironment,
) -> None:
    client = temporal_dev.client
    issuer = f"tenants/op{secrets.token_hex(4)}"
    queue = f"billing-{secrets.token_hex(4)}"
    await ensure_schedules(client, [Issuer(issuer, "Europe/Brussels", "BE")], queue)
    # Every worker start does it again; a changed zone updates the one schedule.
    await ensure_schedules(client, [Issuer(issuer, "Europe/Brussels", "BE")], queue)
    await ensure_schedules(client, [Issuer(issuer, "America/New_York", "US")], queue)
    handle = client.get_schedule_handle(schedule_id(issuer))
    try:
        described = await handle.describe()
        assert described.schedule.spec.time_zone_name == "America/New_York"
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.workflow == "MonthlySettlement" and action.task_queue == queue
        (payload,) = action.args
        input = DataConverter.default.payload_converter.from_payload(payload, SettlementInput)  # type: ignore[arg-type]
        assert input == SettlementInput(issuer, "", "America/New_York", "US")
        upcoming = [t.astimezone(ZoneInfo("America/New_York")) for t in described.info.next_action_times]
        assert upcoming and all((t.day, t.hour, t.minute) == (1, 0, 30) for t in upcoming)
    finally:
        await handle.delete()
