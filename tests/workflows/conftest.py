"""The accounts stack for workflow tests: a real identity service wired to a real Temporal
server, a worker with real activities, and a real SMTP sink."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.support.processes import service_accounts
from wattlane.api.identity.v1 import accounts_pb2, internal_pb2_grpc, tenants_pb2
from wattlane.core.client import channel
from wattlane.core.clients.identity import IdentityClient
from wattlane.core.identity_link import IdentityLink
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import ADMIN_EMAIL, ADMIN_PASSWORD, Member, TreeBuilder, start_identity
from wattlane.workflows.mail.sink import MailSink
from wattlane.workflows.testing import RunningWorker, start_worker


def service_accounts_file(directory: Path) -> tuple[Path, str]:
    """The service-accounts file identity reads (every internal account, scopes from contracts);
    returns it and the worker's secret."""
    path, secret = service_accounts(directory)
    return path, secret["worker"]


@dataclass
class Stack:
    identity: IdentityService
    admin: IdentityClient
    temporal: Client
    sink: MailSink
    worker: RunningWorker | None
    worker_secret: str
    internal: internal_pb2_grpc.IdentityInternalServiceAsyncStub
    task_queue: str  # one per stack: workflows of other tests never reach this stack's worker

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.identity.port}"

    async def restart_worker(self, *, sticky: bool = True) -> None:
        if self.worker is not None:
            await self.worker.stop()
        self.worker = await start_worker(
            self.temporal,
            self.target,
            self.worker_secret,
            self.sink.port,
            task_queue=self.task_queue,
            sticky=sticky,
        )

    def mails_to(self, email: str) -> list[EmailMessage]:
        return [m for m in self.sink.messages if email in str(m["To"])]

    async def wait_mails(self, email: str, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        """The mails to `email` once there are at least `count` of them."""
        for _ in range(int(timeout * 10)):
            mails = self.mails_to(email)
            if len(mails) >= count:
                return mails
            await asyncio.sleep(0.1)
        raise AssertionError(f"expected {count} mail(s) to {email}, got {len(self.mails_to(email))}")


async def make_stack(
    env: WorkflowEnvironment,
    databases: DatabaseFactory,
    sink: MailSink,
    tmp: Path,
    *,
    approvals: bool = True,
    **identity_settings: object,
) -> AsyncIterator[Stack]:
    """`approvals=False`: identity starts no approval workflows (tests start workflows themselves)."""
    accounts_file, secret = service_accounts_file(tmp)
    task_queue = f"accounts-{secrets.token_hex(4)}"
    identity = await start_identity(
        await databases.create("accounts"),
        temporal_address=env.client.service_client.config.target_host if approvals else "",
        service_accounts_file=str(accounts_file),
        approval_task_queue=task_queue,
        **identity_settings,
    )
    admin = await IdentityClient(f"127.0.0.1:{identity.port}").login(ADMIN_EMAIL, ADMIN_PASSWORD)
    link = IdentityLink(f"127.0.0.1:{identity.port}", client_id="worker", client_secret=secret)
    link_channel = channel(f"127.0.0.1:{identity.port}", token=link.service_token, max_attempts=1)
    stack = Stack(
        identity,
        admin,
        env.client,
        sink,
        None,
        secret,
        internal_pb2_grpc.IdentityInternalServiceStub(link_channel),
        task_queue,
    )
    await stack.restart_worker()
    try:
        yield stack
    finally:
        if stack.worker is not None:
            await stack.worker.stop()
        await link_channel.close(None)
        await link.close()
        await admin.close()
        await identity.stop()


@pytest.fixture(scope="module")
async def stack(
    temporal_dev: WorkflowEnvironment,
    databases: DatabaseFactory,
    mail_sink: MailSink,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    """Identity (approvals on the dev server), the worker and the sink."""
    async for s in make_stack(temporal_dev, databases, mail_sink, tmp_path_factory.mktemp("stack")):
        yield s


@dataclass
class Customer:
    partner: tenants_pb2.Tenant
    customer: tenants_pb2.Tenant
    org: tenants_pb2.Tenant
    requester: Member  # the customer's administrator
    cs: Member  # Customer Success


async def make_customer(
    stack: Stack, *, locale: str = "nl", country: str = "NL", time_zone: str = ""
) -> tuple[Customer, TreeBuilder]:
    """`time_zone`: the customer's (default: inherited from the partner's tree)."""
    tree = TreeBuilder(stack.admin)
    root = await tree.root()
    brand = tenants_pb2.Brand(name="Voltera", mail_domain="mail.voltera.example", primary_color="#0b6e4f")
    partner = await tree.tenant(root.name, "PARTNER", brand=brand, locale=locale, country=country)
    customer = await tree.tenant(partner.name, "CUSTOMER", time_zone=time_zone)
    org = await tree.tenant(customer.name, "ORGANIZATION")
    requester = await tree.member(customer.name, [("organization-admin", customer.name)])
    cs = await tree.member(root.name, [("customer-success", root.name)])
    return Customer(partner, customer, org, requester, cs), tree


def new_account_request(org: str, **fields: object) -> accounts_pb2.Application:
    account = accounts_pb2.Account(
        display_name="Fleet charging", plan="business", datapoints=25, sector="logistics", organizations=[org]
    )
    for key, value in fields.items():
        setattr(account, key, value)
    return accounts_pb2.Application(kind=accounts_pb2.Application.CREATE_ACCOUNT, new_account=account)


@pytest.fixture(scope="module")
async def skipping_stack(
    temporal_skipping: WorkflowEnvironment,
    databases: DatabaseFactory,
    mail_sink: MailSink,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    async for s in make_stack(
        temporal_skipping, databases, mail_sink, tmp_path_factory.mktemp("skip"), approvals=False
    ):
        yield s


# The replay fixtures live beside the workflows project's own replay test (workflows/tests).
HISTORIES = Path(__file__).resolve().parents[2] / "workflows" / "tests" / "histories"


async def record_history(client: Client, workflow_id: str, name: str) -> None:
    """With WATTLANE_RECORD_HISTORIES=1, save a finished workflow's history as a replay fixture
    (commit it: test_replay replays every fixture against the current workflow code)."""
    import os

    if os.environ.get("WATTLANE_RECORD_HISTORIES") != "1":
        return
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())
