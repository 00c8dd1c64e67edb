"""Renewal reminders at 30/7/0 days and expiry, over a whole year on the time-skipping server,
with real activities (identity over gRPC, mails through a real SMTP sink)."""

from __future__ import annotations

import asyncio
import datetime as dt

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from wattlane.api.identity.v1 import accounts_pb2, internal_pb2
from wattlane.workflows.renewal import types as renewal
from wattlane.workflows.renewal.workflows import AccountRenewal

from .conftest import Customer, Stack, make_customer, new_account_request, record_history

TZ = "Europe/Amsterdam"


async def active_account(stack: Stack, c: Customer, env: WorkflowEnvironment) -> accounts_pb2.Account:
    """An approved account (decided through the workflow activity's own RPC), starting on the
    test server's current date (earlier tests skipped its clock ahead)."""
    today = (await env.get_current_time()).date().isoformat()
    app = await c.requester.client.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=c.customer.name, application=new_account_request(c.org.name)
        )
    )
    reply = await stack.internal.DecideApplication(
        internal_pb2.DecideApplicationRequest(
            application=app.name, approve=True, actor=c.cs.user.name, effective_date=today
        )
    )
    assert reply.account.state == accounts_pb2.Account.ACTIVE
    return reply.account


async def start_renewal(stack: Stack, account: accounts_pb2.Account) -> WorkflowHandle:  # type: ignore[type-arg]
    return await stack.temporal.start_workflow(
        AccountRenewal.run,
        renewal.RenewalInput(account=account.name, expiry_date=account.expiry_date, time_zone=TZ),
        id=renewal.workflow_id(account.name.removeprefix("accounts/")),
        task_queue=stack.task_queue,
    )


def subjects(stack: Stack, email: str) -> list[str]:
    return [str(m["Subject"]) for m in stack.mails_to(email)]


async def wait_subjects(stack: Stack, email: str, count: int) -> list[str]:
    for _ in range(200):
        if len(found := subjects(stack, email)) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} mails to {email}, got {subjects(stack, email)}")


async def until(env: WorkflowEnvironment, day: str, hour: int) -> None:
    """Skip the test server's clock to a local date and hour."""
    target = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=dt.UTC)
    now = await env.get_current_time()
    if target > now:
        await env.sleep(target - now)


async def test_a_year_with_reminders_and_expiry(
    skipping_stack: Stack, temporal_skipping: WorkflowEnvironment
) -> None:
    stack = skipping_stack
    c, tree = await make_customer(stack, locale="en")
    partner_admin = await tree.member(c.partner.name, [("partner-admin", c.partner.name)])
    account = await active_account(stack, c, temporal_skipping)
    handle = await start_renewal(stack, account)
    nxt = await handle.query(renewal.NEXT_REMINDER_QUERY, result_type=renewal.NextReminder)
    expiry = dt.date.fromisoformat(account.expiry_date)
    assert (nxt.date, nxt.offset_days) == ((expiry - dt.timedelta(days=30)).isoformat(), 30)
    await handle.result()  # the test server skips the whole year
    await record_history(stack.temporal, handle.id, "renewal_full_year_v2")
    for email in (c.requester.user.email, partner_admin.user.email):
        assert subjects(stack, email) == [
            "Fleet charging expires in 30 days",
            "Fleet charging expires in 7 days",
            "Fleet charging has expired",
        ]
    got = await c.requester.client.accounts.GetAccount(accounts_pb2.GetAccountRequest(name=account.name))
    assert got.state == accounts_pb2.Account.EXPIRED
    await tree.close()


async def test_renewal_between_7_and_0_days_cancels_the_expiry(
    skipping_stack: Stack, temporal_skipping: WorkflowEnvironment
) -> None:
    stack = skipping_stack
    c, tree = await make_customer(stack, locale="nl")
    account = await active_account(stack, c, temporal_skipping)
    handle = await start_renewal(stack, account)
    expiry = dt.date.fromisoformat(account.expiry_date)
    await until(temporal_skipping, (expiry - dt.timedelta(days=3)).isoformat(), 12)
    assert len(await wait_subjects(stack, c.requester.user.email, 2)) == 2  # 30- and 7-day mails
    # Renewed three days before expiry: the approval path moves the date and signals the workflow.
    app = await c.requester.client.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=c.customer.name,
            application=accounts_pb2.Application(kind=accounts_pb2.Application.RENEW, account=account.name),
        )
    )
    decided = await stack.internal.DecideApplication(
        internal_pb2.DecideApplicationRequest(
            application=app.name,
            approve=True,
            actor=c.cs.user.name,
            effective_date=(expiry - dt.timedelta(days=3)).isoformat(),
        )
    )
    new_expiry = decided.account.expiry_date
    assert new_expiry == expiry.replace(year=expiry.year + 1).isoformat()
    await handle.signal(renewal.RENEWED, renewal.Renewed(new_expiry))
    await until(temporal_skipping, (expiry + dt.timedelta(days=5)).isoformat(), 12)
    latest = stack.temporal.get_workflow_handle(handle.id)
    nxt = await latest.query(renewal.NEXT_REMINDER_QUERY, result_type=renewal.NextReminder)
    assert nxt.expiry_date == new_expiry and nxt.offset_days == 30
    assert subjects(stack, c.requester.user.email) == [
        "Fleet charging verloopt over 30 dagen",
        "Fleet charging verloopt over 7 dagen",
    ]  # no expiry mail
    got = await c.requester.client.accounts.GetAccount(accounts_pb2.GetAccountRequest(name=account.name))
    assert got.state == accounts_pb2.Account.ACTIVE and got.expiry_date == new_expiry
    first_run = stack.temporal.get_workflow_handle(handle.id, run_id=handle.result_run_id)
    history = await first_run.fetch_history()
    assert any(e.HasField("workflow_execution_continued_as_new_event_attributes") for e in history.events)
    await record_history(stack.temporal, handle.id, "renewal_renewed_before_expiry")
    await latest.terminate("test done")
    await tree.close()


async def test_worker_restart_between_reminders_loses_and_repeats_nothing(
    skipping_stack: Stack, temporal_skipping: WorkflowEnvironment
) -> None:
    stack = skipping_stack
    c, tree = await make_customer(stack, locale="en")
    account = await active_account(stack, c, temporal_skipping)
    await stack.restart_worker(sticky=False)
    handle = await start_renewal(stack, account)
    expiry = dt.date.fromisoformat(account.expiry_date)
    await until(temporal_skipping, (expiry - dt.timedelta(days=20)).isoformat(), 12)
    assert await wait_subjects(stack, c.requester.user.email, 1) == ["Fleet charging expires in 30 days"]
    # A new worker process takes over between the reminders: it replays the history (the 30-day
    # mail already sent) and carries on. (The test server does not skip time while a timer's
    # workflow task waits for a worker, so the restart happens before the clock moves on.)
    await stack.restart_worker(sticky=False)
    await handle.result()
    assert subjects(stack, c.requester.user.email) == [
        "Fleet charging expires in 30 days",
        "Fleet charging expires in 7 days",
        "Fleet charging has expired",
    ]
    await tree.close()
