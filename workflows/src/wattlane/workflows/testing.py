"""Test support for workflows: the real Temporal dev server and time-skipping server from pip
(started as `wattlane.core.testing.temporal` starts them), a real SMTP sink, and a worker with
the real activities wired to an identity service at a given address. A pytest plugin (loaded
from the root conftest); fixtures that start identity itself live in the top-level tests/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from wattlane.core.identity_link import IdentityLink
from wattlane.core.testing.temporal import start_dev_server, start_time_skipping
from wattlane.workflows.identity import IdentityInternal
from wattlane.workflows.mail.mailer import Mailer
from wattlane.workflows.mail.sink import MailSink
from wattlane.workflows.mail.smtp import SmtpSender
from wattlane.workflows.worker import Dependencies, new_worker, task_queues


@dataclass
class RunningWorker:
    """A worker for the accounts task queue, wired to identity and the mail sink."""

    worker: Worker
    task: asyncio.Task[None]
    link: IdentityLink
    identity: IdentityInternal

    async def stop(self) -> None:
        await self.worker.shutdown()
        await self.task
        await self.identity.close()
        await self.link.close()


async def start_worker(
    client: Client,
    identity_target: str,
    worker_secret: str,
    smtp_port: int,
    *,
    task_queue: str,
    sticky: bool = True,
) -> RunningWorker:
    """`sticky=False` keeps no workflow cached, so every task is replayed from history, and a
    worker that goes away leaves no sticky queue behind (the test server never times one out)."""
    link = IdentityLink(identity_target, client_id="worker", client_secret=worker_secret)
    identity = IdentityInternal(link, identity_target)
    deps = Dependencies(client, identity, Mailer(SmtpSender("127.0.0.1", smtp_port), identity))
    (queue,) = [q for q in task_queues(deps, task_queue) if q.name == task_queue]
    worker = new_worker(client, queue, max_cached_workflows=1000 if sticky else 0)
    return RunningWorker(worker, asyncio.create_task(worker.run()), link, identity)


@pytest.fixture(scope="session")
async def temporal_dev() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
async def temporal_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test module: a workflow another module left waiting
    on a timer would stop the clock from skipping for everyone."""
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[MailSink]:
    """A real SMTP sink; tests tell their mails apart by recipient (addresses are unique)."""
    sink = MailSink()
    sink.start()
    yield sink
    sink.stop()
