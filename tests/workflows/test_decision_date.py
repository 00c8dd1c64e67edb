"""An approved account's dates are the customer's calendar dates: a decision just after local
midnight in a time zone east of UTC (still the day before in UTC) starts the account on the
local date. The time-skipping server brings the workflow's clock to that instant; identity and
the activities are real."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from temporalio.testing import WorkflowEnvironment

from wattlane.api.identity.v1 import accounts_pb2
from wattlane.identity.accounts import add_months
from wattlane.workflows.approval import types as approval
from wattlane.workflows.approval.workflows import ApplicationApproval
from wattlane.workflows.renewal import types as renewal

from .conftest import Stack, make_customer, new_account_request, record_history


def next_local(now: dt.datetime, at: dt.time, time_zone: str) -> dt.datetime:
    """The first instant, a minute or more after `now`, when clocks in `time_zone` show `at`."""
    zone = zoneinfo.ZoneInfo(time_zone)
    earliest = now + dt.timedelta(minutes=1)
    day = earliest.astimezone(zone).date()
    while (candidate := dt.datetime.combine(day, at, tzinfo=zone)) < earliest:
        day += dt.timedelta(days=1)
    return candidate.astimezone(dt.UTC)


@pytest.mark.parametrize(
    ("time_zone", "history"),
    [("Europe/Amsterdam", "approval_decided_after_local_midnight"), ("Asia/Tokyo", "")],
)
async def test_a_decision_at_half_past_midnight_local_time_starts_the_account_that_day(
    skipping_stack: Stack, temporal_skipping: WorkflowEnvironment, time_zone: str, history: str
) -> None:
    stack = skipping_stack
    c, tree = await make_customer(stack, locale="en", time_zone=time_zone)
    app = await c.requester.client.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=c.customer.name, application=new_account_request(c.org.name)
        )
    )
    handle = await stack.temporal.start_workflow(
        ApplicationApproval.run,
        approval.ApprovalInput(application=app.name, reminder_after_seconds=7 * 24 * 3600),
        id=app.workflow_id,
        task_queue=stack.task_queue,
    )
    now = await temporal_skipping.get_current_time()
    decide_at = next_local(now, dt.time(0, 30), time_zone)
    local_day = decide_at.astimezone(zoneinfo.ZoneInfo(time_zone)).date()
    assert decide_at.date() == local_day - dt.timedelta(days=1)  # in UTC it is still the day before
    await temporal_skipping.sleep(decide_at - now)
    await handle.signal(approval.DECIDE, approval.Decision(actor=c.cs.user.name, approve=True))
    # The clock stays put while waiting: skipped ahead, the renewal workflow this approval starts
    # would be mailing (and would hold up the next test's skip when terminated mid-activity).
    with temporal_skipping.auto_time_skipping_disabled():
        outcome = await handle.result()
    account = await c.requester.client.accounts.GetAccount(accounts_pb2.GetAccountRequest(name=app.account))
    assert account.start_date == local_day.isoformat()
    assert account.expiry_date == add_months(local_day, 12).isoformat()
    assert (outcome.state, outcome.expiry_date) == ("APPROVED", account.expiry_date)
    if history:
        await record_history(stack.temporal, handle.id, history)
    # The account's renewal schedule runs on the customer's dates too. Its first timer is months
    # away; terminated, it cannot fire while a later test skips the clock.
    renewal_handle = stack.temporal.get_workflow_handle(
        renewal.workflow_id(app.account.removeprefix("accounts/"))
    )
    nxt = await renewal_handle.query(renewal.NEXT_REMINDER_QUERY, result_type=renewal.NextReminder)
    assert (nxt.expiry_date, nxt.offset_days) == (account.expiry_date, 30)
    await renewal_handle.terminate("test done")
    await tree.close()
