"""Identity's side of the approval workflows.

Creating an application commits its row with `workflow_started = false` (an outbox); core's
relay then starts the workflow (id derived from the application id, so a retry finds the
running one) and marks the row. If Temporal is down the row waits and the relay retries, so no
application is ever without its workflow. Decisions go to the workflow as an update whose
result is the outcome."""

from __future__ import annotations

import logging

from temporalio.client import Client
from temporalio.service import RPCError

from wattlane.contracts import approval
from wattlane.core.db import Database
from wattlane.core.errors import FailedPrecondition, Unavailable
from wattlane.core.outbox import OutboxTable, WorkflowRelay, WorkflowStart
from wattlane.core.temporal import LazyClient, send_update
from wattlane.identity.models import Application

log = logging.getLogger("wattlane.identity.approvals")


class Approvals:
    """Starts approval workflows (core's outbox relay) and delivers decisions to them."""

    def __init__(
        self,
        db: Database,
        temporal: LazyClient,
        reminder_after_seconds: float,
        relay_interval: float = 2.0,
        task_queue: str = approval.TASK_QUEUE,
    ) -> None:
        self._temporal_link = temporal
        self._reminder = reminder_after_seconds
        self._task_queue = task_queue
        self.relay = WorkflowRelay(
            db,
            temporal,
            OutboxTable.flagged(
                "approvals",
                key=Application.id,
                created=Application.create_time,
                started=Application.workflow_started,
            ),
            self._start_for,
            interval=relay_interval,
        )

    def _start_for(self, application_id: str) -> WorkflowStart:
        return WorkflowStart(
            approval.WORKFLOW,
            approval.ApprovalInput(
                application=f"applications/{application_id}", reminder_after_seconds=self._reminder
            ),
            id=approval.workflow_id(application_id),
            task_queue=self._task_queue,
        )

    async def _temporal(self) -> Client:
        if not self._temporal_link.configured:
            raise Unavailable(
                "approvals need Temporal, and none is configured (WATTLANE_IDENTITY_TEMPORAL_ADDRESS)"
            )
        try:
            return await self._temporal_link.get()
        except ConnectionError as error:
            raise Unavailable(f"Temporal is unavailable: {error}") from None

    def kick(self) -> None:
        """Start waiting workflows now (called after an application commits)."""
        self.relay.kick()

    async def relay_once(self) -> int:
        """Start every workflow still waiting; returns how many were confirmed."""
        return await self.relay.relay_once()

    async def ensure_started(self, application_id: str) -> None:
        """Make sure the application's workflow exists (the relay may not have got to it yet)."""
        await self._temporal()
        try:
            await self.relay.deliver(application_id)
        except RPCError as error:
            raise Unavailable(f"Temporal refused to start the approval workflow: {error.message}") from None

    async def decide(self, application_id: str, decision: approval.Decision) -> approval.ApprovalOutcome:
        """Send the decision; returns the outcome. FAILED_PRECONDITION when it cannot apply."""
        client = await self._temporal()
        name = f"applications/{application_id}"
        outcome = await send_update(
            client,
            approval.workflow_id(application_id),
            approval.DECIDE,
            decision,
            approval.ApprovalOutcome,
            start=lambda: self.ensure_started(application_id),
            ended=lambda: FailedPrecondition(f"{name} is already decided", reason="ALREADY_DECIDED"),
            what="the approval workflow",
        )
        log.info(
            "%s %s by %s",
            name,
            outcome.state.lower(),
            decision.actor,
            extra={"application": name, "state": outcome.state},
        )
        return outcome
