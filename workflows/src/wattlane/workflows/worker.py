"""The worker process: one Temporal worker per task queue, each with its workflows and
activities. Stops cleanly on SIGTERM/SIGINT (in-flight activities finish or are retried)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from wattlane.contracts.task_queues import ACCOUNTS as ACCOUNTS_QUEUE
from wattlane.contracts.task_queues import BILLING as BILLING_QUEUE
from wattlane.core import logs, telemetry
from wattlane.core.identity_link import IdentityLink
from wattlane.core.server import run, run_until_signal
from wattlane.core.temporal import connect
from wattlane.workflows.approval.activities import ApprovalActivities
from wattlane.workflows.approval.workflows import ApplicationApproval
from wattlane.workflows.csms import CsmsInternal
from wattlane.workflows.handoff.activities import HandoffActivities
from wattlane.workflows.handoff.workflows import TransactionHandoff
from wattlane.workflows.identity import IdentityInternal
from wattlane.workflows.mail.mailer import Mailer
from wattlane.workflows.mail.smtp import SmtpSender
from wattlane.workflows.renewal.activities import RenewalActivities
from wattlane.workflows.renewal.workflows import AccountRenewal
from wattlane.workflows.settings import WorkerSettings, load
from wattlane.workflows.usermail.activities import UserMailActivities
from wattlane.workflows.usermail.workflows import UserMailDelivery

log = logging.getLogger("wattlane.worker")


@dataclass
class TaskQueue:
    """What one task queue runs."""

    name: str
    workflows: Sequence[type] = ()
    activities: Sequence[Callable[..., Any]] = ()


@dataclass
class Dependencies:
    """What activities talk to, built once per process."""

    temporal: Client
    identity: IdentityInternal
    mailer: Mailer
    app_url: str = "http://localhost:8080"  # where links in mails point
    csms: CsmsInternal | None = None  # the transaction handoff's consumer (until billing exists)


def task_queues(
    deps: Dependencies, accounts_queue: str = ACCOUNTS_QUEUE, billing_queue: str = BILLING_QUEUE
) -> list[TaskQueue]:
    """Every task queue this worker serves, with its workflows and activities (billing only
    when the CSMS is configured)."""
    approval = ApprovalActivities(deps.identity, deps.mailer, deps.temporal)
    renewal = RenewalActivities(deps.identity, deps.mailer)
    user_mail = UserMailActivities(deps.identity, deps.mailer, deps.app_url)
    queues = [
        TaskQueue(
            accounts_queue,
            workflows=[ApplicationApproval, AccountRenewal, UserMailDelivery],
            activities=[
                approval.apply_decision,
                approval.check_actor,
                approval.notify,
                approval.schedule_renewal,
                renewal.send_reminder,
                renewal.expire_account,
                user_mail.send,
            ],
        )
    ]
    if deps.csms is not None:
        handoff = HandoffActivities(deps.csms)
        queues.append(TaskQueue(billing_queue, workflows=[TransactionHandoff], activities=[handoff.record]))
    return queues


@dataclass
class WorkerProcess:
    settings: WorkerSettings
    client: Client | None = None
    _link: IdentityLink | None = None
    _identity: IdentityInternal | None = None
    _csms: CsmsInternal | None = None
    _workers: list[Worker] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        s = self.settings
        self.client = await connect(s.temporal_address, s.temporal_namespace)
        self._link = IdentityLink(s.identity_address, client_id=s.client_id, client_secret=s.client_secret)
        self._identity = IdentityInternal(self._link, s.identity_address)
        self._csms = CsmsInternal(self._link, s.csms_address) if s.csms_address else None
        deps = Dependencies(
            self.client,
            self._identity,
            Mailer(SmtpSender(s.smtp_host, s.smtp_port), self._identity),
            app_url=s.app_url,
            csms=self._csms,
        )
        for queue in task_queues(deps, s.accounts_task_queue, s.billing_task_queue):
            worker = Worker(
                self.client,
                task_queue=queue.name,
                workflows=list(queue.workflows),
                activities=list(queue.activities),
            )
            self._workers.append(worker)
            self._tasks.append(asyncio.create_task(worker.run()))
        log.info("worker running", extra={"task_queues": [w.task_queue for w in self._workers]})

    async def stop(self) -> None:
        for worker in self._workers:
            await worker.shutdown()
        for task in self._tasks:
            await task
        if self._identity is not None:
            await self._identity.close()
        if self._csms is not None:
            await self._csms.close()
        if self._link is not None:
            await self._link.close()


def cli() -> None:
    settings = load()
    logs.configure("worker", settings.log_level, settings.log_json)
    telemetry.configure_tracing("worker", settings.otlp_endpoint)
    process = WorkerProcess(settings)
    run(run_until_signal(process.start, process.stop))


if __name__ == "__main__":
    cli()
