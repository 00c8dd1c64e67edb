"""Workflow outcomes and activity times, counted by the worker while a real approval runs:
identity → Temporal dev server → worker (its activities and interceptor) → identity."""

from __future__ import annotations

from prometheus_client import REGISTRY

from wattlane.api.identity.v1 import accounts_pb2
from wattlane.workflows.approval import types as approval

from .conftest import Stack, make_customer, new_account_request


def sample(name: str, outcome: str) -> float:
    labels = {"workflow": approval.WORKFLOW, "outcome": outcome}
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_an_approval_counts_its_decision_and_times_its_activities(stack: Stack) -> None:
    c, tree = await make_customer(stack)
    app = await c.requester.client.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=c.customer.name, application=new_account_request(c.org.name)
        )
    )
    approved = sample("wattlane_workflow_outcomes_total", "approved")
    rejected = sample("wattlane_workflow_outcomes_total", "rejected")
    completed = sample("wattlane_activity_seconds_count", "completed")
    await c.cs.client.applications.ApproveApplication(accounts_pb2.ApproveApplicationRequest(name=app.name))
    await stack.temporal.get_workflow_handle(app.workflow_id).result()
    assert sample("wattlane_workflow_outcomes_total", "approved") == approved + 1
    assert sample("wattlane_workflow_outcomes_total", "rejected") == rejected
    # apply_decision, the decision mail and scheduling the renewal, each timed once.
    assert sample("wattlane_activity_seconds_count", "completed") == completed + 3
    await tree.close()
