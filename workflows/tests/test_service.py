"""The worker on the service skeleton, against a real Temporal dev server: ready once its
workers poll, the SDK's metrics on its side port, and a stop that lets running activities finish
(or, past the grace time, cancels them to be retried). Activities are stubs registered under the
real names; identity is never called."""

from __future__ import annotations

import asyncio
import secrets
import urllib.request
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from wattlane.contracts import user_mail
from wattlane.contracts.user_mail import UserMailInput, UserMailResult
from wattlane.core.testing.promtool import check_metrics
from wattlane.workflows.settings import WorkerSettings
from wattlane.workflows.usermail.workflows import UserMailDelivery
from wattlane.workflows.worker import RunningWorkers, TaskQueue, WorkerService, new_worker


def settings(env: WorkflowEnvironment, **overrides: object) -> WorkerSettings:
    values: dict[str, object] = {
        "metrics_port": 0,
        "temporal_address": env.client.service_client.config.target_host,
        "accounts_task_queue": f"accounts-{secrets.token_hex(4)}",
        "identity_address": "127.0.0.1:9",  # never called: no workflow reaches these queues
        "csms_address": "",
        "billing_address": "",  # no handoffs, no settlements: no billing queue
        "drain_seconds": 0.0,
        "grace_seconds": 1.0,
    }
    return WorkerSettings(**{**values, **overrides})  # type: ignore[arg-type]


def scrape(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        body: bytes = reply.read()
    return body


async def test_ready_once_the_workers_poll_with_the_sdk_metrics_on_the_side_port(
    temporal_dev: WorkflowEnvironment,
) -> None:
    service = WorkerService(settings(temporal_dev))
    await service.start()
    try:
        assert service.health.is_ready()
        assert [w.task_queue for w in service.workers.workers] == [service.settings.accounts_task_queue]
        assert all(w.is_running for w in service.workers.workers)
        for _ in range(100):  # the SDK reports its pollers once they poll
            exposition = await asyncio.to_thread(scrape, service.metrics_port)
            if b"temporal_num_pollers{" in exposition:
                break
            await asyncio.sleep(0.1)
        text = exposition.decode()
        assert f'task_queue="{service.settings.accounts_task_queue}"' in text
        assert "# TYPE temporal_request_total counter" in text
        assert 'wattlane_process_ready{service="worker"} 1.0' in text
        assert 'wattlane_workflow_outcomes_total{outcome="sent",workflow="UserMailDelivery"}' in text
        check_metrics(exposition)
    finally:
        await service.stop()
    assert service.health.state == "draining"
    assert all(w.is_shutdown for w in service.workers.workers)


async def test_a_worker_that_cannot_poll_never_turns_ready(temporal_dev: WorkflowEnvironment) -> None:
    service = WorkerService(settings(temporal_dev, temporal_namespace="no-such-namespace", metrics_port=-1))
    with pytest.raises(RuntimeError, match="no-such-namespace"):
        await service.start()
    assert not service.health.is_ready()


def activity_seconds_count(outcome: str) -> float:
    labels = {"workflow": user_mail.WORKFLOW, "outcome": outcome}
    return REGISTRY.get_sample_value("wattlane_activity_seconds_count", labels) or 0.0


class SlowMail:
    """`send_user_mail` taking `seconds`; `started` is set once an attempt runs."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = asyncio.Event()
        self.attempts: list[int] = []

    @activity.defn(name="send_user_mail")
    async def send(self, input: UserMailInput) -> UserMailResult:
        self.attempts.append(activity.info().attempt)
        self.started.set()
        await asyncio.sleep(self.seconds)
        return UserMailResult(sent=True, reason=f"attempt {activity.info().attempt}")


async def _workers(client: Client, queue: str, mail: SlowMail, grace: float) -> RunningWorkers:
    tasks = TaskQueue(queue, workflows=[UserMailDelivery], activities=[mail.send])
    workers = RunningWorkers(
        [new_worker(client, tasks, graceful_shutdown=timedelta(seconds=grace))], on_failure=lambda: None
    )
    await workers.start()
    return workers


async def test_stopping_lets_a_running_activity_finish(temporal_dev: WorkflowEnvironment) -> None:
    client, queue = temporal_dev.client, f"mail-{secrets.token_hex(4)}"
    mail = SlowMail(1.0)
    workers = await _workers(client, queue, mail, grace=30)
    handle = await client.start_workflow(
        UserMailDelivery.run, UserMailInput("userMails/slow"), id=f"slow-{queue}", task_queue=queue
    )
    await asyncio.wait_for(mail.started.wait(), 30)
    completed = activity_seconds_count("completed")
    await workers.stop()  # the activity finishes within the grace time
    assert activity_seconds_count("completed") == completed + 1
    assert all(w.is_shutdown for w in workers.workers)
    # Another worker finishes the workflow with the first attempt's result.
    again = await _workers(client, queue, SlowMail(0), grace=1)
    try:
        assert await handle.result() == UserMailResult(sent=True, reason="attempt 1")
    finally:
        await again.stop()
    assert mail.attempts == [1]


async def test_an_activity_outliving_the_grace_time_is_cancelled_and_retried(
    temporal_dev: WorkflowEnvironment,
) -> None:
    client, queue = temporal_dev.client, f"mail-{secrets.token_hex(4)}"
    stuck = SlowMail(300.0)
    workers = await _workers(client, queue, stuck, grace=0.5)
    handle = await client.start_workflow(
        UserMailDelivery.run, UserMailInput("userMails/stuck"), id=f"stuck-{queue}", task_queue=queue
    )
    await asyncio.wait_for(stuck.started.wait(), 30)
    cancelled = activity_seconds_count("cancelled")
    await asyncio.wait_for(workers.stop(), 30)
    assert activity_seconds_count("cancelled") == cancelled + 1
    # The next worker runs the retry.
    retry = SlowMail(0)
    again = await _workers(client, queue, retry, grace=1)
    try:
        assert await handle.result() == UserMailResult(sent=True, reason="attempt 2")
    finally:
        await again.stop()
    assert (stuck.attempts, retry.attempts) == ([1], [2])
