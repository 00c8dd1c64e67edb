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

from wattlane.core import logs, telemetry
from wattlane.core.server import run, run_until_signal
from wattlane.core.temporal import connect
from wattlane.workflows.settings import WorkerSettings, load

log = logging.getLogger("wattlane.worker")


@dataclass
class TaskQueue:
    """What one task queue runs."""

    name: str
    workflows: Sequence[type] = ()
    activities: Sequence[Callable[..., Any]] = ()


@dataclass
class WorkerProcess:
    """All task queues of this process; later issues register theirs in `task_queues()`."""

    settings: WorkerSettings
    queues: list[TaskQueue] = field(default_factory=list)
    client: Client | None = None
    _workers: list[Worker] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        self.client = await connect(self.settings.temporal_address, self.settings.temporal_namespace)
        for queue in self.queues:
            if not queue.workflows and not queue.activities:
                continue
            worker = Worker(
                self.client,
                task_queue=queue.name,
                workflows=list(queue.workflows),
                activities=list(queue.activities),
            )
            self._workers.append(worker)
            self._tasks.append(asyncio.create_task(worker.run()))
        if self._workers:
            log.info("worker running", extra={"task_queues": [q.name for q in self.queues]})
        else:
            log.info("worker connected to Temporal; no workflows are registered yet")

    async def stop(self) -> None:
        for worker in self._workers:
            await worker.shutdown()
        for task in self._tasks:
            await task


def task_queues() -> list[TaskQueue]:
    """Every task queue this worker serves."""
    return []


def cli() -> None:
    settings = load()
    logs.configure("worker", settings.log_level, settings.log_json)
    telemetry.configure_tracing("worker", settings.otlp_endpoint)
    process = WorkerProcess(settings, task_queues())
    run(run_until_signal(process.start, process.stop))


if __name__ == "__main__":
    cli()
