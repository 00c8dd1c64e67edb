"""UserMailDelivery: one mail with a one-time link, retried until SMTP and identity answer."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from wattlane.contracts.user_mail import WORKFLOW, UserMailInput, UserMailResult
    from wattlane.workflows.usermail.activities import UserMailActivities

# A mail older than a day is no use to anyone (the invitation may be re-sent); stop retrying.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))


@workflow.defn(name=WORKFLOW)
class UserMailDelivery:
    @workflow.run
    async def run(self, input: UserMailInput) -> UserMailResult:
        return await workflow.execute_activity_method(
            UserMailActivities.send,
            input,
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=timedelta(days=1),
            retry_policy=RETRY,
        )
