"""Fixtures of the trace tests: an OTLP collector, and the accounts stack of the workflow tests
(identity, the Temporal dev server, a worker) with tracing on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.traces.collector import Collector
from tests.workflows.conftest import Stack, make_stack
from wattlane.core import telemetry
from wattlane.core.temporal import connect
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.workflows.mail.sink import MailSink


@pytest.fixture(scope="session")
async def collector() -> AsyncIterator[Collector]:
    """The OTLP endpoint every traced process of these tests exports to."""
    receiver = Collector()
    receiver.start()
    yield receiver
    # Whatever this process still holds goes out while someone listens (not at exit, into a
    # closed port, retried until the exporter's timeout).
    await asyncio.to_thread(telemetry.flush)
    receiver.stop()


@pytest.fixture(scope="module")
async def traced_stack(
    temporal_dev: WorkflowEnvironment,
    databases: DatabaseFactory,
    mail_sink: MailSink,
    tmp_path_factory: pytest.TempPathFactory,
    collector: Collector,
) -> AsyncIterator[Stack]:
    """Identity exporting to the collector (its Temporal client is core's, with the tracing
    interceptor), and a worker on a client of core's too, as the worker process builds it: the
    workflow tests' worker uses the test server's plain client, which traces nothing."""
    async for stack in make_stack(
        temporal_dev,
        databases,
        mail_sink,
        tmp_path_factory.mktemp("traces"),
        otlp_endpoint=collector.endpoint,
    ):
        stack.temporal = await connect(temporal_dev.client.service_client.config.target_host)
        await stack.restart_worker()
        yield stack
