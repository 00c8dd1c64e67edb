"""The approval workflow end to end: identity → Temporal dev server → worker → identity, with
mails read from a real SMTP sink."""

from __future__ import annotations

import asyncio
import dataclasses

import grpc
import pytest

from wattlane.api.common.v1 import audit_pb2
from wattlane.api.identity.v1 import accounts_pb2, internal_pb2
from wattlane.core.db import Database
from wattlane.workflows.approval import types as approval
from wattlane.workflows.renewal import types as renewal

from .conftest import Stack, make_customer, new_account_request

A = accounts_pb2.Application


async def _create(stack: Stack, **fields: object):  # type: ignore[no-untyped-def]
    c, tree = await make_customer(stack, **fields)  # type: ignore[arg-type]
    app = await c.requester.client.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=c.customer.name, application=new_account_request(c.org.name)
        )
    )
    return c, tree, app


async def _workflow_state(stack: Stack, app: A) -> approval.ApprovalState:
    handle = stack.temporal.get_workflow_handle(app.workflow_id)
    for _ in range(100):  # the relay starts the workflow right after the application commits
        try:
            return await handle.query(approval.STATE_QUERY, result_type=approval.ApprovalState)  # type: ignore[no-any-return]
        except Exception:
            await asyncio.sleep(0.1)
    raise AssertionError("approval workflow never started")


async def test_approve_activates_mails_and_schedules_renewal(stack: Stack) -> None:
    c, tree, app = await _create(stack)
    assert app.state == A.PENDING
    assert (await _workflow_state(stack, app)).state == "PENDING"
    account = await c.requester.client.accounts.GetAccount(accounts_pb2.GetAccountRequest(name=app.account))
    assert account.state == accounts_pb2.Account.PENDING  # nothing in force before approval
    decided = await c.cs.client.applications.ApproveApplication(
        accounts_pb2.ApproveApplicationRequest(name=app.name)
    )
    assert decided.state == A.APPROVED
    assert decided.decided_by == c.cs.user.name
    account = await c.requester.client.accounts.GetAccount(accounts_pb2.GetAccountRequest(name=app.account))
    assert account.state == accounts_pb2.Account.ACTIVE
    assert account.start_date and account.expiry_date > account.start_date
    assert list(account.organizations) == [c.org.name]
    # The requester gets the decision mail, in Dutch, under the partner's brand.
    mails = await stack.wait_mails(c.requester.user.email, 1)
    assert mails[0]["Subject"] == "Uw aanvraag (nieuw account) voor Fleet charging is goedgekeurd"
    assert "noreply@mail.voltera.example" in mails[0]["From"] and "Voltera" in mails[0]["From"]
    # The account's renewal schedule runs, next reminder 30 days before expiry.
    handle = stack.temporal.get_workflow_handle(renewal.workflow_id(app.account.removeprefix("accounts/")))
    for _ in range(100):
        try:
            nxt = await handle.query(renewal.NEXT_REMINDER_QUERY, result_type=renewal.NextReminder)
            break
        except Exception:
            await asyncio.sleep(0.1)
    assert nxt.expiry_date == account.expiry_date and nxt.offset_days == 30
    result = await stack.temporal.get_workflow_handle(app.workflow_id).result()
    assert result["state"] == "APPROVED"
    # Deciding again: FAILED_PRECONDITION, and nothing changes.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await c.cs.client.applications.RejectApplication(
            accounts_pb2.RejectApplicationRequest(name=app.name, reason="changed my mind")
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    again = await c.cs.client.applications.GetApplication(accounts_pb2.GetApplicationRequest(name=app.name))
    assert again.state == A.APPROVED
    # The same approval again (a retry) answers with the decided application.
    retry = await c.cs.client.applications.ApproveApplication(
        accounts_pb2.ApproveApplicationRequest(name=app.name)
    )
    assert retry.state == A.APPROVED
    await tree.close()


async def test_reject_releases_the_organization(stack: Stack) -> None:
    c, tree, app = await _create(stack, locale="en")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await c.cs.client.applications.RejectApplication(accounts_pb2.RejectApplicationRequest(name=app.name))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    rejected = await c.cs.client.applications.RejectApplication(
        accounts_pb2.RejectApplicationRequest(name=app.name, reason="datapoints exceed the contract")
    )
    assert rejected.state == A.REJECTED and rejected.reason == "datapoints exceed the contract"
    account = await c.requester.client.accounts.GetAccount(accounts_pb2.GetAccountRequest(name=app.account))
    assert account.state == accounts_pb2.Account.REJECTED
    mails = await stack.wait_mails(c.requester.user.email, 1)
    assert mails[0]["Subject"] == "Your application (new account) for Fleet charging was not approved"
    assert "datapoints exceed the contract" in mails[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # The organization can be applied for again.
    again = await c.requester.client.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=c.customer.name, application=new_account_request(c.org.name)
        )
    )
    assert again.state == A.PENDING
    await tree.close()


async def test_only_customer_success_decides(stack: Stack) -> None:
    c, tree, app = await _create(stack)
    partner_admin = await tree.member(c.partner.name, [("partner-admin", c.partner.name)])
    for who in (c.requester, partner_admin):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await who.client.applications.ApproveApplication(
                accounts_pb2.ApproveApplicationRequest(name=app.name)
            )
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await _workflow_state(stack, app)).state == "PENDING"  # still waiting
    # A user of another partner does not even see it.
    root = await tree.root()
    other = await tree.tenant(root.name, "PARTNER")
    stranger = await tree.member(other.name, [("partner-admin", other.name)])
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stranger.client.applications.GetApplication(accounts_pb2.GetApplicationRequest(name=app.name))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    await tree.close()


async def test_raw_signal_actor_is_verified(stack: Stack) -> None:
    c, tree, app = await _create(stack)
    await _workflow_state(stack, app)
    handle = stack.temporal.get_workflow_handle(app.workflow_id)
    await handle.signal(approval.DECIDE, approval.Decision(actor=c.requester.user.name, approve=True))
    await handle.signal(approval.DECIDE, approval.Decision(actor="users/NOBODY", approve=True))
    for _ in range(100):
        state = await handle.query(approval.STATE_QUERY, result_type=approval.ApprovalState)
        if len(state.refused) == 2:
            break
        await asyncio.sleep(0.1)
    assert [r.actor for r in state.refused] == [c.requester.user.name, "users/NOBODY"]
    assert state.state == "PENDING"
    account = await c.requester.client.accounts.GetAccount(accounts_pb2.GetAccountRequest(name=app.account))
    assert account.state == accounts_pb2.Account.PENDING  # refused decisions are recorded, not applied
    await handle.signal(approval.DECIDE, approval.Decision(actor=c.cs.user.name, approve=True))
    result = await handle.result()
    assert result["state"] == "APPROVED" and result["decided_by"] == c.cs.user.name
    await tree.close()


async def test_concurrent_approve_and_reject_one_wins(stack: Stack) -> None:
    c, tree, app = await _create(stack)
    root = await tree.root()
    cs2 = await tree.member(root.name, [("customer-success", root.name)])
    await _workflow_state(stack, app)
    results = await asyncio.gather(
        c.cs.client.applications.ApproveApplication(accounts_pb2.ApproveApplicationRequest(name=app.name)),
        cs2.client.applications.RejectApplication(
            accounts_pb2.RejectApplicationRequest(name=app.name, reason="no")
        ),
        return_exceptions=True,
    )
    wins = [r for r in results if isinstance(r, A)]
    losses = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].code() == grpc.StatusCode.FAILED_PRECONDITION
    final = await c.cs.client.applications.GetApplication(accounts_pb2.GetApplicationRequest(name=app.name))
    assert final.state == wins[0].state
    await tree.close()


async def test_worker_down_during_approval_applies_once(stack: Stack) -> None:
    c, tree, app = await _create(stack)
    await _workflow_state(stack, app)
    assert stack.worker is not None
    await stack.worker.stop()  # nobody can run the decision now
    stack.worker = None

    async def approve_call() -> A:
        request = accounts_pb2.ApproveApplicationRequest(name=app.name)
        return await c.cs.client.applications.ApproveApplication(request, timeout=60)  # type: ignore[no-any-return]

    approve = asyncio.create_task(approve_call())
    await asyncio.sleep(1.0)
    assert not approve.done()
    await stack.restart_worker()  # a new worker process picks the workflow up
    decided = await approve
    assert decided.state == A.APPROVED
    await stack.temporal.get_workflow_handle(app.workflow_id).result()
    audit = await stack.admin.audit.ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(filter=f'resource = "{app.name}"', page_size=100)
    )
    decisions = [e for e in audit.audit_entries if "state" in e.changed_fields]
    assert len(decisions) == 1  # applied exactly once
    await tree.close()


async def test_identity_down_during_apply_is_retried_once(stack: Stack) -> None:
    c, tree, app = await _create(stack)
    await _workflow_state(stack, app)
    handle = stack.temporal.get_workflow_handle(app.workflow_id)
    server = stack.identity.grpc
    assert server is not None
    # Stop identity's server so the decision activity fails, then bring it back on the same port.
    await server.server.stop(0)
    await handle.signal(approval.DECIDE, approval.Decision(actor=c.cs.user.name, approve=True))
    await asyncio.sleep(2.0)
    # Restart on the same port and database, as a process restart would.
    stack.identity.settings = dataclasses.replace(stack.identity.settings, port=stack.identity.port)
    await stack.identity.stop()
    stack.identity.db = Database(stack.identity.settings.database_url)
    await stack.identity.start()
    result = await handle.result()
    assert result["state"] == "APPROVED"
    account = await stack.internal.ExpireAccount(
        internal_pb2.ExpireAccountRequest(account=app.account, expiry_date="1999-01-01")
    )
    assert account.state == accounts_pb2.Account.ACTIVE  # applied; an unrelated expiry date changes nothing
    await tree.close()
