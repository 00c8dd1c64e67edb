"""ApplicationApproval: waits for Customer Success to decide, reminding them when nobody does,
applies the decision through an idempotent activity, mails the requester and (re)starts the
account's renewal schedule. Pure orchestration: every effect is an activity."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from wattlane.workflows.approval.activities import ApprovalActivities
    from wattlane.workflows.approval.types import (
        DECIDE,
        STATE_QUERY,
        WORKFLOW,
        ApplyDecisionInput,
        ApprovalInput,
        ApprovalOutcome,
        ApprovalState,
        CheckActorInput,
        Decision,
        NotifyInput,
        RefusedDecision,
        ScheduleRenewalInput,
    )

# Transient failures (a service restarting) are retried without end; business refusals are
# non-retryable ApplicationErrors raised by the activities.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
ACTIVITY_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name=WORKFLOW)
class ApplicationApproval:
    @workflow.init
    def __init__(self, input: ApprovalInput) -> None:
        # The input is known before any handler runs: an update can arrive in the very first
        # workflow task, before `run` starts.
        self._state = ApprovalState(application=input.application)
        self._signals: list[Decision] = []
        self._decision: Decision | None = None  # the decision being (or that was) applied
        self._kind = ""
        self._time_zone = "UTC"

    @workflow.run
    async def run(self, input: ApprovalInput) -> ApprovalOutcome:
        while self._state.outcome is None:
            try:
                await workflow.wait_condition(
                    lambda: bool(self._signals) or self._decision is not None,
                    timeout=timedelta(seconds=input.reminder_after_seconds),
                )
            except TimeoutError:
                if self._state.reminders_sent < input.max_reminders:
                    await self._remind()
                continue
            if self._decision is not None:  # an update is applying a decision
                await workflow.wait_condition(
                    lambda: self._state.outcome is not None or self._decision is None
                )
                continue
            decision = self._signals.pop(0)
            if await self._actor_allowed(decision):
                try:
                    await self._apply(decision)
                except ApplicationError as error:
                    self._state.refused.append(RefusedDecision(decision.actor, decision.approve, str(error)))
        outcome = self._state.outcome
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._after_decision(outcome)
        return outcome

    @workflow.update(name=DECIDE)
    async def decide(self, decision: Decision) -> ApprovalOutcome:
        """Identity sends this after checking `accounts.approve`; returns the outcome."""
        return await self._apply(decision)

    @decide.validator
    def _validate(self, decision: Decision) -> None:
        if self._state.outcome is not None or self._decision is not None:
            same = self._decision is not None and (self._decision.actor, self._decision.approve) == (
                decision.actor,
                decision.approve,
            )
            if not same:  # the same decision again (a retry) is let through and gets the outcome
                raise ApplicationError(f"{self._state.application} is already decided", type="AlreadyDecided")

    @workflow.signal(name=DECIDE)
    def decide_signal(self, decision: Decision) -> None:
        """A raw `temporal workflow signal`: its actor is verified by an activity first."""
        self._signals.append(decision)

    @workflow.query(name=STATE_QUERY)
    def state(self) -> ApprovalState:
        return self._state

    async def _apply(self, decision: Decision) -> ApprovalOutcome:
        if self._decision is not None:
            if (self._decision.actor, self._decision.approve) != (decision.actor, decision.approve):
                raise ApplicationError(f"{self._state.application} is already decided", type="AlreadyDecided")
            await workflow.wait_condition(lambda: self._state.outcome is not None or self._decision is None)
            if self._state.outcome is None:
                raise ApplicationError("the decision could not be applied", type="DecisionFailed")
            return self._state.outcome
        self._decision = decision
        self._state.state = "DECIDING"
        try:
            result = await workflow.execute_activity_method(
                ApprovalActivities.apply_decision,
                ApplyDecisionInput(self._state.application, decision, effective_time=workflow.now()),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
            )
        except ActivityError as error:
            self._decision = None
            self._state.state = "PENDING"
            cause = error.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(error)
            kind = cause.type if isinstance(cause, ApplicationError) else "DecisionFailed"
            raise ApplicationError(message, type=kind or "DecisionFailed") from None
        self._state.outcome = result.outcome
        self._state.state = result.outcome.state
        self._state.decided_by = decision.actor
        self._kind, self._time_zone = result.kind, result.time_zone
        return result.outcome

    async def _actor_allowed(self, decision: Decision) -> bool:
        check = await workflow.execute_activity_method(
            ApprovalActivities.check_actor,
            CheckActorInput(self._state.application, decision.actor),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )
        if not check.allowed:
            self._state.refused.append(
                RefusedDecision(decision.actor, decision.approve, "actor does not hold accounts.approve here")
            )
        return check.allowed

    async def _remind(self) -> None:
        self._state.reminders_sent += 1
        await workflow.execute_activity_method(
            ApprovalActivities.notify,
            NotifyInput(
                self._state.application,
                "application_reminder",
                key=f"{self._state.application}/reminder/{self._state.reminders_sent}",
                only_approvers=True,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )

    async def _after_decision(self, outcome: ApprovalOutcome) -> None:
        template = "application_approved" if outcome.state == "APPROVED" else "application_rejected"
        await workflow.execute_activity_method(
            ApprovalActivities.notify,
            NotifyInput(self._state.application, template, key=f"{self._state.application}/decision"),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )
        if outcome.state == "APPROVED" and self._kind in ("CREATE_ACCOUNT", "RENEW", "EXTEND"):
            await workflow.execute_activity_method(
                ApprovalActivities.schedule_renewal,
                ScheduleRenewalInput(outcome.account, outcome.expiry_date, self._time_zone),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
            )
