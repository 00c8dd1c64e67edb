"""Nobody decides for days: Customer Success gets reminders and the workflow keeps waiting
(time-skipping server, real activities)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from wattlane.api.identity.v1 import accounts_pb2
from wattlane.workflows.approval import types as approval
from wattlane.workflows.approval.workflows import ApplicationApproval
from wattlane.workflows.renewal import types as renewal

from .conftest import Stack, make_customer, new_account_request, record_history


async def test_reminders_after_days_then_a_signal_decides(
    skipping_stack: Stack, temporal_skipping: WorkflowEnvironment
) -> None:
    stack = skipping_stack
    c, tree = await make_customer(stack, locale="en")
    app = await c.requester.client.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=c.customer.name, application=new_account_request(c.org.name)
        )
    )
    handle = await stack.temporal.start_workflow(
        ApplicationApproval.run,
        approval.ApprovalInput(application=app.name, reminder_after_seconds=2 * 24 * 3600),
        id=app.workflow_id,
        task_queue=stack.task_queue,
    )
    await temporal_skipping.sleep(timedelta(days=1))
    state = await handle.query(approval.STATE_QUERY, result_type=approval.ApprovalState)
    assert state.reminders_sent == 0
    await temporal_skipping.sleep(timedelta(days=1, hours=2))
    await temporal_skipping.sleep(timedelta(days=2))
    state = await handle.query(approval.STATE_QUERY, result_type=approval.ApprovalState)
    assert (state.state, state.reminders_sent) == ("PENDING", 2)
    for _ in range(100):
        if len(stack.mails_to(c.cs.user.email)) >= 2:
            break
        await asyncio.sleep(0.05)
    reminders = stack.mails_to(c.cs.user.email)
    assert [str(m["Subject"]) for m in reminders] == [
        "Reminder: application for Fleet charging is waiting for a decision"
    ] * 2
    assert app.name in reminders[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    await handle.signal(approval.DECIDE, approval.Decision(actor=c.cs.user.name, approve=True))
    outcome = await handle.result()
    assert outcome.state == "APPROVED"
    await record_history(stack.temporal, handle.id, "approval_reminded_then_signalled_v2")
    # Approval started the account's renewal schedule (with the skipped clock it may be done).
    renewal_handle = stack.temporal.get_workflow_handle(
        renewal.workflow_id(app.account.removeprefix("accounts/"))
    )
    description = await renewal_handle.describe()
    assert description.workflow_type == renewal.WORKFLOW
    if description.status == WorkflowExecutionStatus.RUNNING:
        # Left running, its next timer would wait for a worker this module no longer has.
        await renewal_handle.terminate("test done")
    await tree.close()
