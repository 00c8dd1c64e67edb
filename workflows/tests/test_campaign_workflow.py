"""FirmwareCampaign's orchestration with its CSMS activities stubbed under their names (on the
time-skipping server): waves behind gates, aborts only past the minimum finished, a gate that
waits for a person, pause/resume/cancel updates recorded with who and why, and a maintenance
window that spreads a rollout over weeks."""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import zoneinfo
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from wattlane.contracts.firmware_campaign import (
    CANCEL,
    PAUSE,
    RESUME,
    AbortRuleSpec,
    CampaignCommand,
    CampaignInput,
    CampaignSpec,
    CampaignStatus,
    WindowSpec,
)
from wattlane.core.testing.temporal import start_time_skipping
from wattlane.workflows.campaign.types import (
    DecisionInput,
    DecisionRecorded,
    DispatchInput,
    DispatchResult,
    Notified,
    NotifyInput,
    Progress,
    SyncInput,
    WaveTally,
)
from wattlane.workflows.campaign.workflows import FirmwareCampaign

HISTORIES = Path(__file__).parent / "histories"


@pytest.fixture
async def temporal_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test (not the module's): these campaigns run for weeks
    of skipped time with people acting in between, and one left waiting on another's clock was
    seen to stall the next test."""
    env = await start_time_skipping()
    yield env
    await env.shutdown()


SPEC = CampaignSpec(location="https://firmware.example/sim-2.1.0.bin", target_version="2.1.0")
USER = "users/01HUMAN"


def fleet(*sizes: int) -> list[list[str]]:
    """Waves of station identities: S<wave>-<n>."""
    return [[f"S{w}-{n}" for n in range(size)] for w, size in enumerate(sizes)]


@dataclass
class FakeCsms:
    """The CSMS side: stations finish as soon as they are sent, with `outcomes` (identity →
    failure type) failing; `hold` stations stay in progress until released."""

    waves: list[list[str]]
    outcomes: dict[str, str] = field(default_factory=dict)
    hold: set[str] = field(default_factory=set)
    sent: list[str] = field(default_factory=list)
    dispatched_at: list[tuple[int, datetime]] = field(default_factory=list)
    decisions: list[DecisionInput] = field(default_factory=list)
    notified: list[NotifyInput] = field(default_factory=list)
    slow: dict[str, float] = field(default_factory=dict)  # action → seconds its record takes

    @activity.defn(name="dispatch_campaign_wave")
    async def dispatch(self, input: DispatchInput) -> DispatchResult:
        todo = [s for s in self.waves[input.wave] if s not in self.sent]
        if input.limit:
            todo = todo[: input.limit]
        self.sent.extend(todo)
        self.dispatched_at.append((input.wave, activity.info().current_attempt_scheduled_time))
        return DispatchResult(sent=len(todo))

    @activity.defn(name="sync_campaign")
    async def sync(self, input: SyncInput) -> Progress:
        progress = Progress()
        for number, members in enumerate(self.waves):
            done = [s for s in members if s in self.sent and s not in self.hold]
            failed = [s for s in done if s in self.outcomes]
            progress.waves.append(WaveTally(number, len(members), len(done) - len(failed), len(failed)))
            for s in failed:
                progress.failures[self.outcomes[s]] = progress.failures.get(self.outcomes[s], 0) + 1
        return progress

    @activity.defn(name="record_campaign_decision")
    async def record(self, input: DecisionInput) -> DecisionRecorded:
        await asyncio.sleep(self.slow.get(input.action, 0))
        self.decisions.append(input)
        return DecisionRecorded()

    @activity.defn(name="notify_campaign_owner")
    async def notify(self, input: NotifyInput) -> Notified:
        self.notified.append(input)
        return Notified()

    def actions(self) -> list[str]:
        return [d.action for d in self.decisions]


async def start(
    env: WorkflowEnvironment, csms: FakeCsms, spec: CampaignSpec, worker_queue: str, poll: int = 30
) -> WorkflowHandle[FirmwareCampaign, CampaignStatus]:
    return await env.client.start_workflow(
        FirmwareCampaign.run,
        CampaignInput("campaigns/C1", spec, len(csms.waves), poll_seconds=poll),
        id=f"firmware-campaign-{secrets.token_hex(4)}",
        task_queue=worker_queue,
    )


def worker(env: WorkflowEnvironment, csms: FakeCsms, queue: str) -> Worker:
    return Worker(
        env.client,
        task_queue=queue,
        workflows=[FirmwareCampaign],
        activities=[csms.dispatch, csms.sync, csms.record, csms.notify],
    )


async def run(
    env: WorkflowEnvironment, csms: FakeCsms, spec: CampaignSpec, poll: int = 30
) -> tuple[CampaignStatus, str]:
    queue = f"firmware-{secrets.token_hex(4)}"
    async with worker(env, csms, queue):
        handle = await start(env, csms, spec, queue, poll)
        return await handle.result(), handle.id


async def test_a_canary_then_three_waves_all_succeed(temporal_skipping: WorkflowEnvironment) -> None:
    csms = FakeCsms(fleet(5, 60, 60, 75))
    spec = replace(SPEC, gate_min_success_percent=95, gate_min_sample=5)
    status, workflow_id = await run(temporal_skipping, csms, spec)
    assert status == CampaignStatus("SUCCEEDED", 3, "every wave passed its gate")
    assert sorted(csms.sent) == sorted(s for wave in csms.waves for s in wave)
    assert len(csms.sent) == len(set(csms.sent)) == 200, "no station is sent twice"
    assert csms.actions() == ["GATE_PASSED"] * 3 + ["FINISH"]
    assert csms.notified == []
    if os.environ.get("WATTLANE_RECORD_HISTORIES") == "1":  # the replay fixture
        history = await temporal_skipping.client.get_workflow_handle(workflow_id).fetch_history()
        (HISTORIES / "firmware_campaign.json").write_text(history.to_json())


RULES = (AbortRuleSpec("DOWNLOAD_FAILED", threshold_percent=20, min_finished=5),)


async def test_canary_failures_above_the_threshold_abort_before_wave_one(
    temporal_skipping: WorkflowEnvironment,
) -> None:
    csms = FakeCsms(fleet(5, 50), outcomes={"S0-1": "DOWNLOAD_FAILED", "S0-3": "DOWNLOAD_FAILED"})
    status, _ = await run(temporal_skipping, csms, replace(SPEC, abort_rules=RULES))
    assert status.state == "ABORTED" and "2 of 5" in status.reason
    assert not any(s.startswith("S1-") for s in csms.sent), "wave 1 was never sent"
    assert csms.actions() == ["ABORT"]
    assert [n.event for n in csms.notified] == ["ABORT"]


async def test_failures_below_the_minimum_finished_do_not_abort(
    temporal_skipping: WorkflowEnvironment,
) -> None:
    csms = FakeCsms(fleet(3, 20), outcomes={"S0-0": "DOWNLOAD_FAILED"})
    spec = replace(SPEC, abort_rules=RULES, gate_min_success_percent=60)
    status, _ = await run(temporal_skipping, csms, spec)
    assert status.state == "SUCCEEDED"  # 1 of 3 failed: above 20%, but only 3 finished (< 5)
    assert csms.actions() == ["GATE_PASSED", "FINISH"]


async def test_a_manual_gate_waits_for_a_person_who_resumes(temporal_skipping: WorkflowEnvironment) -> None:
    csms = FakeCsms(fleet(2, 4))
    queue = f"firmware-{secrets.token_hex(4)}"
    async with worker(temporal_skipping, csms, queue):
        handle = await start(temporal_skipping, csms, replace(SPEC, gate_manual=True), queue)
        await _until(temporal_skipping, handle, "PAUSED")
        assert csms.actions() == ["GATE_HELD"] and [n.event for n in csms.notified] == ["GATE_HELD"]
        await temporal_skipping.sleep(timedelta(days=2))  # it waits, however long
        assert not any(s.startswith("S1-") for s in csms.sent)
        resumed = await handle.execute_update(
            RESUME, CampaignCommand(USER, "canary looks good"), result_type=CampaignStatus
        )
        assert resumed.state == "RUNNING"
        await _until(temporal_skipping, handle, "PAUSED", wave=1)  # the last wave's gate holds too
        await handle.execute_update(RESUME, CampaignCommand(USER, "done"), result_type=CampaignStatus)
        status = await handle.result()
    assert status.state == "SUCCEEDED"
    assert [(d.action, d.actor, d.reason) for d in csms.decisions if d.actor == USER] == [
        ("RESUME", USER, "canary looks good"),
        ("RESUME", USER, "done"),
    ]


async def test_decisions_are_recorded_in_the_order_they_were_taken(temporal_dev: WorkflowEnvironment) -> None:
    """A resume at the last wave's held gate lets the campaign finish at once: the FINISH must be
    recorded after the RESUME (the CSMS keeps the last recorded state), even when recording the
    resume is slow."""
    csms = FakeCsms(fleet(2), slow={"RESUME": 1.0})
    queue = f"firmware-{secrets.token_hex(4)}"
    async with worker(temporal_dev, csms, queue):
        handle = await start(temporal_dev, csms, replace(SPEC, gate_manual=True), queue, poll=1)
        await _until_real(handle, "PAUSED")
        await handle.execute_update(RESUME, CampaignCommand(USER, "go"), result_type=CampaignStatus)
        status = await handle.result()
    assert status.state == "SUCCEEDED"
    assert [(d.action, d.state) for d in csms.decisions] == [
        ("GATE_HELD", "PAUSED"),
        ("RESUME", "RUNNING"),
        ("FINISH", "SUCCEEDED"),
    ]


async def test_pause_resume_cancel_are_checked_and_recorded(temporal_dev: WorkflowEnvironment) -> None:
    # On the real dev server, polling every second (the time-skipping server was seen to stall
    # in this back-and-forth of updates). One station of the canary and one of wave 1 never
    # finish by themselves.
    csms = FakeCsms(fleet(2, 4, 4), hold={"S0-1", "S1-0"})
    queue = f"firmware-{secrets.token_hex(4)}"
    async with worker(temporal_dev, csms, queue):
        handle = await start(temporal_dev, csms, SPEC, queue, poll=1)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                RESUME, CampaignCommand(USER, "not paused"), result_type=CampaignStatus
            )
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                PAUSE, CampaignCommand(USER, "  "), result_type=CampaignStatus
            )  # a reason is required
        paused = await handle.execute_update(
            PAUSE, CampaignCommand(USER, "support call"), result_type=CampaignStatus
        )
        assert paused.state == "PAUSED"
        csms.hold.discard("S0-1")
        await asyncio.sleep(3)  # three polls' worth
        assert not any(s.startswith("S1-") for s in csms.sent), "paused: nothing new is sent"
        await handle.execute_update(RESUME, CampaignCommand(USER, "all clear"), result_type=CampaignStatus)
        await _until_real(handle, "RUNNING", wave=1)
        cancelled = await handle.execute_update(
            CANCEL, CampaignCommand(USER, "wrong image"), result_type=CampaignStatus
        )
        assert cancelled.state == "CANCELLED"
        status = await handle.result()
    assert status.state == "CANCELLED"
    assert not any(s.startswith("S2-") for s in csms.sent)
    assert [(d.action, d.reason) for d in csms.decisions if d.actor == USER] == [
        ("PAUSE", "support call"),
        ("RESUME", "all clear"),
        ("CANCEL", "wrong image"),
    ]


async def test_a_weekly_maintenance_window_spreads_the_waves_over_weeks(
    temporal_skipping: WorkflowEnvironment,
) -> None:
    # Saturdays 02:00-02:01 in Amsterdam, polled every 90 s: one wave fits in a window (sent,
    # then polled after it closed), so four waves take four Saturdays.
    window = WindowSpec("Europe/Amsterdam", "02:00", 1, (5,))
    csms = FakeCsms(fleet(2, 3, 3, 3))
    status, _ = await run(temporal_skipping, csms, replace(SPEC, window=window), poll=90)
    assert status.state == "SUCCEEDED"
    amsterdam = zoneinfo.ZoneInfo("Europe/Amsterdam")
    local = [(wave, at.astimezone(amsterdam)) for wave, at in csms.dispatched_at]
    assert [wave for wave, _ in local] == [0, 1, 2, 3]
    for _, at in local:
        assert (at.weekday(), at.hour, at.minute) == (5, 2, 0), at
    days = [at.date() for _, at in local]
    assert [(b - a).days for a, b in itertools.pairwise(days)] == [7, 7, 7]


async def _until(
    env: WorkflowEnvironment,
    handle: WorkflowHandle[FirmwareCampaign, CampaignStatus],
    state: str,
    wave: int = 0,
) -> None:
    """Skip time (30 s at a time: one poll) until the campaign is in `state` on `wave`."""
    for _ in range(100):
        status = await handle.query(FirmwareCampaign.status)
        if (status.state, status.wave) == (state, wave):
            return
        await env.sleep(timedelta(seconds=30))
    raise AssertionError(f"never reached {state} in wave {wave}")


async def _until_real(
    handle: WorkflowHandle[FirmwareCampaign, CampaignStatus], state: str, wave: int = 0
) -> None:
    """Wait (real time, up to 20 s) until the campaign is in `state` on `wave`."""
    for _ in range(200):
        status = await handle.query(FirmwareCampaign.status)
        if (status.state, status.wave) == (state, wave):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never reached {state} in wave {wave}")
