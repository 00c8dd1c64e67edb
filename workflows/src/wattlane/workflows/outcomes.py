"""What the workflows achieve, in `WORKFLOW_OUTCOMES`, and how long activities take, in
`ACTIVITY_SECONDS` (both from core's metrics catalog).

Never counted in workflow code: a workflow runs again from its history on every replay (a worker
restart, an evicted cache), so a counter there would count each outcome many times. Activities
run once per attempt and never on replay: they record what they achieved (`record`), and the
worker's `ActivityMetrics` interceptor times every activity execution. Both label values come
from closed vocabularies declared here, so the series stay bounded.

Counting is at least once, like the activities themselves: an activity retried after its effect
was applied and its answer lost counts that outcome again. Mails are the exception: they are
counted when the mailer really sends one (each has a delivery key that is sent once).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from wattlane.contracts import approval, handoff, settlement, user_mail
from wattlane.core.metrics import ACTIVITY_SECONDS, OTHER, WORKFLOW_OUTCOMES, LabelSet
from wattlane.workflows.renewal import types as renewal

# The outcomes of each workflow (the `outcome` label of WORKFLOW_OUTCOMES).
OUTCOMES: dict[str, tuple[str, ...]] = {
    approval.WORKFLOW: (
        "approved",  # Customer Success approved: the account is in force
        "rejected",
        "decision_refused",  # a raw signal from someone without accounts.approve: recorded, not applied
        "reminder_sent",  # one mail to an approver about an application waiting for a decision
    ),
    renewal.WORKFLOW: (
        "reminder_sent",  # one renewal reminder mail (30 or 7 days before expiry)
        "expiry_notice_sent",  # one mail on the expiry day
        "expired",  # the account lapsed
        "still_active",  # renewed before its expiry day: identity left it in force
    ),
    user_mail.WORKFLOW: (
        "sent",  # an invitation or password-reset mail went out
        "already_sent",  # it had gone out before (a retried workflow)
        "skipped",  # no longer applies (the user accepted, was removed, ...)
    ),
    handoff.WORKFLOW: (
        "recorded",  # a completed transaction handed on for the first time
        "redelivered",  # handed on again after a lost answer: the consumer counted, not duplicated
    ),
    settlement.WORKFLOW: (
        "invoiced",  # a recipient's invoice of the month made and finalized
        "already_invoiced",  # made by an earlier run (a re-run, a retry): returned, not made again
        "skipped",  # not invoiced (its payer is gone): its records stay open for the next month
    ),
}
WORKFLOWS = LabelSet(OUTCOMES)

# How an activity execution ended (the `outcome` label of ACTIVITY_SECONDS).
COMPLETED = "completed"
REFUSED = "refused"  # a business failure (non-retryable ApplicationError): not retried
FAILED = "failed"  # anything else: retried by the activity's retry policy
CANCELLED = "cancelled"  # cancelled (its workflow was, or the worker shut down): retried elsewhere
ACTIVITY_RESULTS = (COMPLETED, REFUSED, FAILED, CANCELLED)


def record(workflow: str, outcome: str, count: int = 1) -> None:
    """Count `count` times `outcome` of `workflow` (from an activity, never a workflow)."""
    if outcome not in OUTCOMES.get(workflow, ()):
        raise ValueError(f"{outcome!r} is not an outcome of {workflow!r} (declare it in OUTCOMES)")
    if count:
        WORKFLOW_OUTCOMES.labels(workflow, outcome).inc(count)


def initialize() -> None:
    """Export every series at 0 from the start, so a rate is defined before the first outcome."""
    for workflow, outcomes in OUTCOMES.items():
        for outcome in outcomes:
            WORKFLOW_OUTCOMES.labels(workflow, outcome)
        for result in ACTIVITY_RESULTS:
            ACTIVITY_SECONDS.labels(workflow, result)


class ActivityMetrics(Interceptor):
    """Worker interceptor timing every activity execution into ACTIVITY_SECONDS by the workflow
    that scheduled it (its type; any other type reads 'other') and how it ended."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TimedActivity(next)


class _TimedActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        workflow = WORKFLOWS(activity.info().workflow_type or OTHER)
        started = time.monotonic()
        result = FAILED
        try:
            value = await super().execute_activity(input)
            result = COMPLETED
            return value
        except ApplicationError as error:
            result = REFUSED if error.non_retryable else FAILED
            raise
        except asyncio.CancelledError:
            result = CANCELLED
            raise
        finally:
            ACTIVITY_SECONDS.labels(workflow, result).observe(time.monotonic() - started)
