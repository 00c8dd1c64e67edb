"""AccountRenewal: mails the account's admins (and its partner) 30 and 7 days before expiry
and on the expiry day, marks the account expired that day unless it was renewed, and starts
over (continue-as-new) when a renewal or extension moves the expiry date."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, time, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from wattlane.workflows.renewal.activities import RenewalActivities
    from wattlane.workflows.renewal.calendar import local_date, local_instant
    from wattlane.workflows.renewal.types import (
        NEXT_REMINDER_QUERY,
        RENEWED,
        WORKFLOW,
        ExpireInput,
        NextReminder,
        ReminderInput,
        RenewalInput,
        RenewalResult,
        Renewed,
    )

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))
ACTIVITY_TIMEOUT = timedelta(seconds=60)


@workflow.defn(name=WORKFLOW)
class AccountRenewal:
    @workflow.init
    def __init__(self, input: RenewalInput) -> None:
        self._input = input  # known before the first signal or query is handled
        self._new_expiry: str | None = None

    @workflow.run
    async def run(self, input: RenewalInput) -> RenewalResult:
        while (offset := self._next_offset()) is not None:
            fire_at = self._fire_time(offset)
            delay = (fire_at - workflow.now()).total_seconds()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: self._new_expiry is not None, timeout=timedelta(seconds=delay)
                    )
            if self._new_expiry is not None:
                # Renewed or extended: a fresh run with the new date (and a short history).
                workflow.continue_as_new(
                    RenewalInput(
                        input.account,
                        self._new_expiry,
                        input.time_zone,
                        input.offsets_days,
                        input.send_hour,
                        [],
                    )
                )
            if offset == 0:
                await workflow.execute_activity_method(
                    RenewalActivities.expire_account,
                    ExpireInput(input.account, input.expiry_date),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=RETRY,
                )
            await workflow.execute_activity_method(
                RenewalActivities.send_reminder,
                ReminderInput(input.account, input.expiry_date, offset),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
            )
            input.sent_offsets.append(offset)
        return RenewalResult(input.account, input.expiry_date, list(input.sent_offsets))

    @workflow.signal(name=RENEWED)
    def renewed(self, renewed: Renewed) -> None:
        if renewed.expiry_date != self._input.expiry_date:
            self._new_expiry = renewed.expiry_date

    @workflow.query(name=NEXT_REMINDER_QUERY)
    def next_reminder(self) -> NextReminder:
        offset = self._next_offset()
        if offset is None:
            return NextReminder("", -1, self._input.expiry_date)
        day = date.fromisoformat(self._input.expiry_date) - timedelta(days=offset)
        return NextReminder(day.isoformat(), offset, self._input.expiry_date)

    def _fire_time(self, offset: int) -> datetime:
        day = date.fromisoformat(self._input.expiry_date) - timedelta(days=offset)
        # The expiry day's event is at the start of the day (the account lapses then); reminders
        # go out at a civil hour of the customer's day.
        at = time(0, 0) if offset == 0 else time(self._input.send_hour, 0)
        return local_instant(day, at, self._input.time_zone)

    def _next_offset(self) -> int | None:
        """The next reminder not yet sent, skipping those whose day had passed when this run
        started (an account approved with 10 days left gets its 7-day and 0-day mails, not a
        late 30-day one)."""
        # Measured from when this run started, not from when a worker got to it: a reminder due
        # while no worker ran is late, not skipped.
        today = local_date(workflow.info().start_time, self._input.time_zone)
        expiry = date.fromisoformat(self._input.expiry_date)
        for offset in sorted(set(self._input.offsets_days), reverse=True):
            if offset in self._input.sent_offsets:
                continue
            if expiry - timedelta(days=offset) < today and offset != 0:
                continue
            return offset
        return None
