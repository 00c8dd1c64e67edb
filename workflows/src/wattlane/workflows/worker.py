"""The worker process: one Temporal worker per task queue, each with its workflows and
activities, on the service skeleton.

    python -m wattlane.workflows            # serve
    python -m wattlane.workflows migrate    # nothing to migrate: the worker has no database
    python -m wattlane.workflows settings   # the configuration in force (secrets redacted)

Ready once every Temporal worker polls its queue. On SIGTERM the workers stop polling and the
activities running get `grace_seconds` to finish; those still running then are cancelled and
retried by their retry policy (on another worker)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from wattlane.contracts.task_queues import ACCOUNTS as ACCOUNTS_QUEUE
from wattlane.contracts.task_queues import BILLING as BILLING_QUEUE
from wattlane.contracts.task_queues import FIRMWARE as FIRMWARE_QUEUE
from wattlane.core.clients.billing import BillingClient
from wattlane.core.identity_link import IdentityLink
from wattlane.core.service import Service, main
from wattlane.core.temporal import connect
from wattlane.workflows import outcomes
from wattlane.workflows.approval.activities import ApprovalActivities
from wattlane.workflows.approval.workflows import ApplicationApproval
from wattlane.workflows.campaign.activities import CampaignActivities
from wattlane.workflows.campaign.workflows import FirmwareCampaign
from wattlane.workflows.csms import CsmsInternal
from wattlane.workflows.handoff.activities import HandoffActivities
from wattlane.workflows.handoff.workflows import TransactionHandoff
from wattlane.workflows.identity import IdentityInternal
from wattlane.workflows.mail.mailer import Mailer
from wattlane.workflows.mail.smtp import SmtpSender
from wattlane.workflows.renewal.activities import RenewalActivities
from wattlane.workflows.renewal.workflows import AccountRenewal
from wattlane.workflows.sdk_metrics import sdk_metrics
from wattlane.workflows.settings import WorkerSettings
from wattlane.workflows.settlement.activities import SettlementActivities
from wattlane.workflows.settlement.schedule import ensure_schedules, parse_issuers
from wattlane.workflows.settlement.workflows import MonthlySettlement, SettleChunk
from wattlane.workflows.usermail.activities import UserMailActivities
from wattlane.workflows.usermail.workflows import UserMailDelivery

log = logging.getLogger("wattlane.worker")
# Every workflow the worker hosts on some task queue; replay tests replay against exactly these.
WORKFLOWS = (
    ApplicationApproval,
    AccountRenewal,
    UserMailDelivery,
    TransactionHandoff,
    FirmwareCampaign,
    MonthlySettlement,
    SettleChunk,
)


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
    csms: CsmsInternal | None = None  # the transaction handoff records deliveries there
    billing: BillingClient | None = None  # ... after billing sealed the charge record


def task_queues(
    deps: Dependencies, accounts_queue: str = ACCOUNTS_QUEUE, billing_queue: str = BILLING_QUEUE
) -> list[TaskQueue]:
    """Every task queue this worker serves, with its workflows and activities (on the billing
    queue: handoffs when the CSMS is configured, settlements when billing is)."""
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
    billing = TaskQueue(billing_queue, workflows=[], activities=[])
    if deps.csms is not None:
        handoff = HandoffActivities(deps.csms, deps.billing)
        billing.workflows = [TransactionHandoff]
        billing.activities = [handoff.record_charge, handoff.record]
        campaign = CampaignActivities(deps.csms)
        queues.append(
            TaskQueue(
                FIRMWARE_QUEUE,
                workflows=[FirmwareCampaign],
                activities=[campaign.dispatch, campaign.sync, campaign.record_decision, campaign.notify],
            )
        )
    if deps.billing is not None:
        settlement = SettlementActivities(deps.billing)
        billing.workflows = [*billing.workflows, MonthlySettlement, SettleChunk]
        billing.activities = [*billing.activities, settlement.list_recipients, settlement.settle]
    if billing.workflows:
        queues.append(billing)
    return queues


def new_worker(
    client: Client, queue: TaskQueue, *, graceful_shutdown: timedelta = timedelta(), **options: Any
) -> Worker:
    """The Temporal worker for `queue`: its workflows and activities, every activity timed into
    ACTIVITY_SECONDS. `graceful_shutdown`: how long running activities may finish at shutdown;
    `options`: further `Worker` options (tests keep no workflow cached)."""
    return Worker(
        client,
        task_queue=queue.name,
        workflows=list(queue.workflows),
        activities=list(queue.activities),
        interceptors=[outcomes.ActivityMetrics()],
        graceful_shutdown_timeout=graceful_shutdown,
        **options,
    )


class RunningWorkers:
    """Temporal workers run as tasks of the process: `start` returns once every one polls its
    queue (the SDK checks the namespace first), `stop` shuts them down gracefully. A worker that
    fails once running is logged and `on_failure` is told (the service turns not ready)."""

    def __init__(self, workers: Sequence[Worker], on_failure: Callable[[], None]) -> None:
        self.workers = list(workers)
        self._on_failure = on_failure
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False

    async def start(self, timeout: float = 60.0) -> None:
        self._tasks = [asyncio.create_task(self._run(w), name=f"worker-{w.task_queue}") for w in self.workers]
        async with asyncio.timeout(timeout):
            while not all(w.is_running for w in self.workers):
                for task in self._tasks:
                    if task.done():  # ended before it polled: raise its error (namespace, Temporal)
                        task.result()
                        raise RuntimeError(f"{task.get_name()} stopped while starting")
                await asyncio.sleep(0.05)
        self._running = True

    async def _run(self, worker: Worker) -> None:
        try:
            await worker.run()
        except Exception:
            if self._running:
                log.exception("the worker of task queue %s failed", worker.task_queue)
                self._on_failure()
            raise

    async def stop(self) -> None:
        """Stop polling; running activities get the graceful shutdown time, then are cancelled."""
        self._running = False
        await asyncio.gather(*(w.shutdown() for w in self.workers))
        await asyncio.gather(*self._tasks, return_exceptions=True)


class WorkerService(Service[WorkerSettings]):
    """wattlane-worker: the workflows and activities of every task queue."""

    name = "worker"
    settings_class = WorkerSettings

    client: Client
    workers: RunningWorkers

    async def setup(self) -> None:
        s = self.settings
        issuers = parse_issuers(s.settlement_issuers)  # a bad entry stops the worker at once
        runtime = None
        if self.side_port is not None:  # the SDK's own metrics join ours on /metrics
            metrics = sdk_metrics()
            self.side_port.expositions.append(metrics.exposition)
            runtime = metrics.runtime
        outcomes.initialize()
        self.client = await connect(s.temporal_address, s.temporal_namespace, runtime=runtime)
        link = IdentityLink(s.identity_address, client_id=s.client_id, client_secret=s.client_secret)
        self.on_stop(link.close)
        identity = IdentityInternal(link, s.identity_address)
        self.on_stop(identity.close)
        csms = None
        if s.csms_address:
            csms = CsmsInternal(link, s.csms_address)
            self.on_stop(csms.close)
        billing = None
        if s.billing_address:
            billing = BillingClient(s.billing_address, max_attempts=4, token_provider=link.service_token)
            self.on_stop(billing.close)
        deps = Dependencies(
            self.client,
            identity,
            Mailer(SmtpSender(s.smtp_host, s.smtp_port), identity),
            app_url=s.app_url,
            csms=csms,
            billing=billing,
        )
        grace = timedelta(seconds=s.grace_seconds)
        queues = task_queues(deps, s.accounts_task_queue, s.billing_task_queue)
        self.workers = RunningWorkers(
            [new_worker(self.client, q, graceful_shutdown=grace) for q in queues],
            on_failure=self.health.draining,
        )
        # Closers run in reverse order: the workers stop (activities finish) before channels close.
        self.on_stop(self.workers.stop)
        await self.workers.start()
        if billing is not None:
            await ensure_schedules(self.client, issuers, s.billing_task_queue)
        log.info("worker running", extra={"task_queues": [q.name for q in queues]})


def cli(argv: list[str] | None = None) -> None:
    """`wattlane-worker [serve|migrate|settings]` (also `python -m wattlane.workflows`)."""
    main(WorkerService, argv)


if __name__ == "__main__":
    cli()
