"""FirmwareCampaign: rolls a firmware image out wave by wave. Each wave is sent (inside the
maintenance window, within the concurrency limit), then followed until its gate lets the next
one start or holds for a person; failures past an abort rule stop the campaign. People pause,
resume and cancel through the CSMS, which checks `stations.firmware` and sends an update; every
decision, automatic or human, is recorded at the CSMS with who and why."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime, time, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from wattlane.contracts.firmware_campaign import (
        CANCEL,
        PAUSE,
        RESUME,
        STATUS_QUERY,
        WORKFLOW,
        CampaignCommand,
        CampaignInput,
        CampaignStatus,
        FailureType,
        WindowSpec,
    )
    from wattlane.workflows.campaign.activities import CampaignActivities
    from wattlane.workflows.campaign.planning import (
        AbortRule,
        Gate,
        GateDecision,
        WaveCounts,
        evaluate_abort,
        evaluate_gate,
    )
    from wattlane.workflows.campaign.types import (
        DecisionInput,
        DispatchInput,
        NotifyInput,
        Progress,
        SyncInput,
    )
    from wattlane.workflows.campaign.windows import MaintenanceWindow, next_opening

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
ACTIVITY_TIMEOUT = timedelta(minutes=2)
AUTOMATIC = "campaign"
# Start a fresh run (continue-as-new) past this many history events: a long rollout polls often.
HISTORY_LIMIT = 10_000

RUNNING, PAUSED, SUCCEEDED, ABORTED, CANCELLED = "RUNNING", "PAUSED", "SUCCEEDED", "ABORTED", "CANCELLED"


def _window(spec: WindowSpec) -> MaintenanceWindow:
    hours, minutes = (int(part) for part in spec.start.split(":"))
    return MaintenanceWindow(
        start=time(hours, minutes),
        minutes=spec.minutes,
        weekdays=frozenset(spec.weekdays),
        first_day=date.fromisoformat(spec.first_day) if spec.first_day else None,
        last_day=date.fromisoformat(spec.last_day) if spec.last_day else None,
    )


@workflow.defn(name=WORKFLOW)
class FirmwareCampaign:
    @workflow.init
    def __init__(self, input: CampaignInput) -> None:
        # Known before any update is handled (one may arrive in the very first task).
        self._input = input
        self._state = RUNNING
        self._reason = ""
        self._wave = input.start_wave
        self._resumed = False  # a person resumed: a held gate counts as passed
        # Decisions are recorded one at a time, in the order they were taken: the CSMS keeps the
        # state of the last one it records, so a person's resume recorded after the FINISH it let
        # happen would leave the campaign RUNNING there for good.
        self._recording = asyncio.Lock()

    @workflow.run
    async def run(self, input: CampaignInput) -> CampaignStatus:
        spec = input.spec
        gate = Gate(spec.gate_min_success_percent, spec.gate_min_sample, spec.gate_manual)
        rules = [AbortRule(r.failure_type, r.threshold_percent, r.min_finished) for r in spec.abort_rules]
        window = _window(spec.window) if spec.window is not None else None
        for wave in range(input.start_wave, input.wave_count):
            self._wave = wave
            wave_started = workflow.now()
            while True:
                if self._ended:
                    return await self._finish()
                if self._state == PAUSED:
                    await workflow.wait_condition(lambda: self._state != PAUSED)
                    continue
                if window is not None and spec.window is not None:
                    opening = next_opening(window, workflow.now(), spec.window.time_zone)
                    if opening is None:
                        await self._decide(
                            ABORTED, "ABORT", AUTOMATIC, "the maintenance window never opens again"
                        )
                        continue
                    if opening.opens > workflow.now():
                        await self._sleep_until(opening.opens)
                        continue
                await self._dispatch(wave, wave_started)
                await self._pause_interruptible(timedelta(seconds=input.poll_seconds))
                progress = await workflow.execute_activity_method(
                    CampaignActivities.sync,
                    SyncInput(input.campaign, spec.station_timeout_seconds),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=RETRY,
                )
                if await self._aborted(rules, progress):
                    continue
                if await self._gate(gate, progress, wave):
                    break
                if workflow.info().get_current_history_length() > HISTORY_LIMIT:
                    workflow.continue_as_new(
                        CampaignInput(input.campaign, spec, input.wave_count, wave, input.poll_seconds)
                    )
        await self._decide(SUCCEEDED, "FINISH", AUTOMATIC, "every wave passed its gate")
        return await self._finish()

    # -- people ----------------------------------------------------------------------------------

    @workflow.update(name=PAUSE)
    async def pause(self, command: CampaignCommand) -> CampaignStatus:
        """Stop sending the update until resumed (stations already updating finish)."""
        await self._decide(PAUSED, "PAUSE", command.actor, command.reason)
        return self.status()

    @pause.validator
    def _validate_pause(self, command: CampaignCommand) -> None:
        self._require(command, RUNNING)

    @workflow.update(name=RESUME)
    async def resume(self, command: CampaignCommand) -> CampaignStatus:
        """Continue a paused campaign; a gate that held counts as passed."""
        self._resumed = True
        await self._decide(RUNNING, "RESUME", command.actor, command.reason)
        return self.status()

    @resume.validator
    def _validate_resume(self, command: CampaignCommand) -> None:
        self._require(command, PAUSED)

    @workflow.update(name=CANCEL)
    async def cancel(self, command: CampaignCommand) -> CampaignStatus:
        """End the campaign: stations not sent yet are not sent."""
        await self._decide(CANCELLED, "CANCEL", command.actor, command.reason)
        return self.status()

    @cancel.validator
    def _validate_cancel(self, command: CampaignCommand) -> None:
        self._require(command, RUNNING, PAUSED)

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> CampaignStatus:
        """The state, the wave and why."""
        return CampaignStatus(self._state, self._wave, self._reason)

    def _require(self, command: CampaignCommand, *states: str) -> None:
        if not command.actor or not command.reason.strip():
            raise ApplicationError("a decision needs an actor and a reason", type="InvalidDecision")
        if self._state not in states:
            raise ApplicationError(f"{self._input.campaign} is {self._state}", type="WrongState")

    # -- steps -----------------------------------------------------------------------------------

    @property
    def _ended(self) -> bool:
        return self._state in (SUCCEEDED, ABORTED, CANCELLED)

    async def _finish(self) -> CampaignStatus:
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status()

    async def _decide(self, state: str, action: str, actor: str, reason: str) -> None:
        # The state changes at once (the run loop and other updates see it); the record follows.
        self._state, self._reason = state, reason
        await self._record(DecisionInput(self._input.campaign, state, self._wave, actor, action, reason))

    async def _record(self, decision: DecisionInput) -> None:
        # The decision is built when it is taken; the lock (first come, first served) keeps the
        # records in that order.
        async with self._recording:
            await workflow.execute_activity_method(
                CampaignActivities.record_decision,
                decision,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
            )

    async def _sleep_until(self, moment: datetime) -> None:
        """Sleep until `moment`, waking early when a person acts."""
        await self._pause_interruptible(moment - workflow.now())

    async def _pause_interruptible(self, delay: timedelta) -> None:
        state = self._state
        if delay.total_seconds() <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._state != state, timeout=delay)

    async def _dispatch(self, wave: int, wave_started: datetime) -> None:
        spec = self._input.spec
        limit = spec.max_concurrent
        await workflow.execute_activity_method(
            CampaignActivities.dispatch,
            DispatchInput(
                self._input.campaign,
                wave,
                limit,
                wave_started.astimezone(UTC).isoformat(),
                spec.location,
                spec.signing_certificate,
                spec.signature,
                spec.ocpp_retries,
                spec.ocpp_retry_interval_seconds,
                spec.offline_limit_seconds,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )

    async def _aborted(self, rules: list[AbortRule], progress: Progress) -> bool:
        verdict = evaluate_abort(rules, progress.finished, _failures(progress))
        if verdict is None or self._ended:
            return False
        await self._decide(ABORTED, "ABORT", AUTOMATIC, verdict.reason)
        await self._notify("ABORT", verdict.reason)
        return True

    async def _gate(self, gate: Gate, progress: Progress, wave: int) -> bool:
        """True when the next wave may start (the gate passed, or a person resumed a hold)."""
        tally = progress.wave(wave)
        decision = evaluate_gate(gate, WaveCounts(tally.total, tally.succeeded, tally.failed))
        if decision is GateDecision.ADVANCE:
            if wave + 1 < self._input.wave_count:
                await self._record_only(
                    "GATE_PASSED", f"wave {wave}: {tally.succeeded} of {tally.total} verified"
                )
            return True
        if decision is GateDecision.HOLD and self._state == RUNNING:
            why = (
                "manual gate"
                if gate.manual
                else f"{tally.succeeded} of {tally.total} verified, below the gate"
            )
            reason = f"wave {wave} finished: {why}; waiting for a person"
            self._resumed = False
            await self._decide(PAUSED, "GATE_HELD", AUTOMATIC, reason)
            await self._notify("GATE_HELD", reason)
            await workflow.wait_condition(lambda: self._state != PAUSED)
            return self._state == RUNNING and self._resumed
        return False

    async def _record_only(self, action: str, reason: str) -> None:
        await self._record(
            DecisionInput(self._input.campaign, self._state, self._wave, AUTOMATIC, action, reason)
        )

    async def _notify(self, event: str, reason: str) -> None:
        await workflow.execute_activity_method(
            CampaignActivities.notify,
            NotifyInput(self._input.campaign, event, reason),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )


def _failures(progress: Progress) -> dict[FailureType, int]:
    return {FailureType(k): v for k, v in progress.failures.items()}
