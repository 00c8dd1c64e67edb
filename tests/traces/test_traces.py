"""One trace per user action, across every hop, exported over OTLP to a collector in this test.

The CLI runs as its own process (`wattlane ...` with WATTLANE_OTLP_ENDPOINT) and starts the root
span. Identity and the worker run in this test process and export through the same OTLP path as
in production (sharing this process's one tracer provider, their spans carry whichever
service.name configured it first: their service names are not asserted); the CSMS runs as two
real processes.

- approve an application: CLI → identity ApproveApplication → Temporal update → the approval
  workflow's update handler → its apply_decision activity → identity's internal
  DecideApplication, which writes the audit entry;
- remote reset: CLI → CSMS process A (CreateCommand) → process B holding the station's socket
  (ExecuteCommand) → the OCPP Reset CALL to a simulated station, the CALL and its answer in the
  station message log with the trace id.
Each time the trace id is also in the action's JSON log line and in its audit entry."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.trace.v1 import trace_pb2
from temporalio.worker import Replayer

from tests.support.assets import service_token
from tests.support.processes import Process, common_env, free_port, ws_url
from tests.traces.collector import Collector, Span
from tests.workflows.conftest import Stack, make_customer, new_account_request
from wattlane.api.common.v1 import audit_pb2
from wattlane.api.csms.v1 import stations_pb2
from wattlane.api.identity.v1 import accounts_pb2
from wattlane.cli.stack import Stack as ProcessStack
from wattlane.contracts.scopes import SERVICE_ACCOUNTS
from wattlane.core import telemetry
from wattlane.core.clients.csms import CsmsClient
from wattlane.core.logs import JsonFormatter
from wattlane.core.migrations import upgrade_async
from wattlane.core.temporal import TracingInterceptor
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.schema import MIGRATIONS
from wattlane.csms.testing import eventually_async
from wattlane.simulator.station import SimStation, default_handlers
from wattlane.workflows.approval.workflows import ApplicationApproval

WATTLANE = str(Path(sys.executable).parent / "wattlane")
TRACE_LINE = re.compile(r"^trace ([0-9a-f]{32})$", re.MULTILINE)
STATION_PASSWORD = "trace-station-password-01"
SERVER, CLIENT = trace_pb2.Span.SPAN_KIND_SERVER, trace_pb2.Span.SPAN_KIND_CLIENT


async def wattlane(home: Path, collector: Collector, *args: str, **addresses: str) -> tuple[str, str]:
    """Run the CLI as its own process, tracing to `collector`; (stdout, stderr)."""
    env = {
        **os.environ,
        "WATTLANE_HOME": str(home),
        "WATTLANE_OTLP_ENDPOINT": collector.endpoint,
        **{f"WATTLANE_{name.upper()}_ADDRESS": target for name, target in addresses.items()},
    }
    proc = await asyncio.create_subprocess_exec(
        WATTLANE, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode(), err.decode()


def signed_in(home: Path, identity: str, token: str) -> Path:
    """A CLI session file, as `wattlane login` leaves it."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "session.json").write_text(json.dumps({"identity": identity, "token": token, "email": ""}))
    return home


class _Lines(logging.Handler):
    """Log records formatted as the processes write them (core's JSON lines)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter("test"))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@contextmanager
def json_logs() -> Iterator[list[dict[str, Any]]]:
    """The JSON log lines of our loggers (info and up) while the block runs."""
    ours = logging.getLogger("wattlane")
    handler, level = _Lines(), ours.level
    ours.addHandler(handler)
    ours.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        ours.removeHandler(handler)
        ours.setLevel(level)


def trace_id_of(stderr: str) -> str:
    found = TRACE_LINE.search(stderr)
    assert found, f"the CLI printed no trace id: {stderr!r}"
    return found.group(1)


def has(*names: str) -> Any:
    return lambda spans: set(names) <= {s.name for s in spans}


def assert_one_trace(spans: Sequence[Span], hops: Sequence[str]) -> dict[str, Span]:
    """`hops[0]`, the CLI's command, is the root, every other span's parent is in the trace, and
    each hop is there exactly once (registering Temporal's interceptor on the worker as well as
    on its client would record the workflow's and activities' spans twice); returns the spans
    by name."""
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if s.parent_id not in ids]
    assert [(r.name, r.parent_id, r.service) for r in roots] == [(hops[0], "", "wattlane-cli")]
    names = [s.name for s in spans]
    assert {hop: names.count(hop) for hop in hops} == dict.fromkeys(hops, 1), sorted(names)
    return {s.name: s for s in spans}


def assert_child(spans: dict[str, Span], child: str, parent: str) -> None:
    assert spans[child].parent_id == spans[parent].span_id, f"{child} is not under {parent}"


async def test_approving_an_application_is_one_trace(
    traced_stack: Stack, collector: Collector, tmp_path: Path
) -> None:
    stack = traced_stack
    c, tree = await make_customer(stack)
    app = await c.requester.client.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=c.customer.name, application=new_account_request(c.org.name)
        )
    )
    home = signed_in(tmp_path / "cs", stack.target, c.cs.client.token)

    with json_logs() as logs:
        out, err = await wattlane(home, collector, "applications", "approve", app.name)
    assert "APPROVED" in out.upper()
    trace_id = trace_id_of(err)

    approve = "wattlane.api.identity.v1.ApplicationService/ApproveApplication"
    apply = "wattlane.api.identity.v1.IdentityInternalService/DecideApplication"
    hops = (
        "wattlane applications approve",
        approve,
        "StartWorkflowUpdate:decide",
        "HandleUpdate:decide",
        "StartActivity:apply_decision",
        "RunActivity:apply_decision",
        apply,
    )
    await asyncio.to_thread(telemetry.flush)
    spans = assert_one_trace(await collector.wait(trace_id, has(*hops)), hops)
    assert_child(spans, approve, "wattlane applications approve")  # CLI → identity (gRPC metadata)
    assert_child(spans, "StartWorkflowUpdate:decide", approve)  # identity → Temporal
    assert_child(spans, "HandleUpdate:decide", "StartWorkflowUpdate:decide")  # into the workflow
    assert_child(spans, "RunActivity:apply_decision", "StartActivity:apply_decision")
    assert_child(spans, apply, "RunActivity:apply_decision")  # the activity → identity
    assert (spans[approve].kind, spans[apply].kind) == (SERVER, SERVER)
    # The workflow's own trace (started by identity's relay when the application was created)
    # is linked, not joined.
    (workflow_trace,) = spans["HandleUpdate:decide"].linked_traces
    assert workflow_trace != trace_id

    # The audit entry of the decision (written by the activity's internal call) and the log line.
    entries = await stack.admin.audit.ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(filter=f'resource = "{app.name}"')
    )
    decided = [e for e in entries.audit_entries if "DecideApplication" in e.method]
    assert [e.trace_id for e in decided] == [trace_id]
    lines = [line for line in logs if line.get("application") == app.name]
    assert [(line["state"], line["trace_id"]) for line in lines] == [("APPROVED", trace_id)]

    # The finished workflow, its update carrying the trace, replays with the interceptor as the
    # worker runs it: deterministic, and replaying records no span again.
    handle = stack.temporal.get_workflow_handle(app.workflow_id)
    await handle.result()
    replayer = Replayer(workflows=[ApplicationApproval], interceptors=[TracingInterceptor()])
    await replayer.replay_workflow(await handle.fetch_history())
    await asyncio.to_thread(telemetry.flush)
    assert len(collector.spans(trace_id)) == len(spans)
    await tree.close()


async def _held_by(api: CsmsClient, identity: str, process: str) -> None:
    """Wait until the registry (written behind) says `process` holds `identity`'s socket."""

    async def held() -> bool:
        try:
            row = await api.stations.GetStation(stations_pb2.GetStationRequest(name=f"stations/{identity}"))
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            return False
        return row.connected_process == process

    await eventually_async(held, timeout=20, what=f"{identity} held by {process}")


async def test_a_remote_reset_is_one_trace(
    traced_stack: Stack, collector: Collector, databases: DatabaseFactory, tmp_path: Path
) -> None:
    """Two CSMS processes on one database: the CLI asks A, whose station is on B, so the trace
    goes CLI → A (CreateCommand) → B (internal ExecuteCommand) → the station, across three
    processes besides identity."""
    c, tree = await make_customer(traced_stack)
    admin = await tree.member(c.org.name, [("organization-admin", c.org.name)])
    client_id, secret, _ = await service_token(traced_stack.admin, list(SERVICE_ACCOUNTS["csms"]), "csms")
    database_url = await databases.create("traces_csms")
    stack = ProcessStack()

    def csms(name: str) -> Process:
        process = Process("csms", {}, free_port(), free_port())
        process.env = {
            **common_env("CSMS", process.side_port),
            "WATTLANE_CSMS_DATABASE_URL": database_url,
            "WATTLANE_CSMS_PORT": str(free_port()),
            "WATTLANE_CSMS_GRPC_PORT": str(process.grpc_port),
            "WATTLANE_CSMS_PROCESS_ID": name,
            "WATTLANE_CSMS_IDENTITY_ADDRESS": traced_stack.target,
            "WATTLANE_CSMS_CLIENT_ID": client_id,
            "WATTLANE_CSMS_CLIENT_SECRET": secret,
            "WATTLANE_CSMS_DEMO_PATTERN": r"TR-\d+",
            "WATTLANE_CSMS_DEMO_PASSWORD": STATION_PASSWORD,
            "WATTLANE_CSMS_DEMO_OWNER": c.org.name.removeprefix("tenants/"),
            "WATTLANE_CSMS_DEMO_OWNER_PATH": c.org.path,
            "WATTLANE_CSMS_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within 0.1 s, not the default 5 s
        }
        return process

    a, b = csms("csms-a"), csms("csms-b")
    station = SimStation("TR-1", ws_url(b), password=STATION_PASSWORD, handlers=default_handlers("ocpp1.6"))
    api = CsmsClient(a.grpc, admin.client.token)
    try:
        # Migrated first, so the two processes can start side by side (each finds nothing to do).
        await upgrade_async(database_url, MIGRATIONS)
        await asyncio.gather(a.start(stack, tmp_path / "a"), b.start(stack, tmp_path / "b"))
        await station.connect()
        await station.boot()
        await _held_by(api, "TR-1", "csms-b")
        home = signed_in(tmp_path / "admin", traced_stack.target, admin.client.token)

        out, err = await wattlane(home, collector, "stations", "reset", "TR-1", csms=a.grpc)
        trace_id = trace_id_of(err)
        command = re.search(r"(stations/TR-1/commands/\S+): Reset accepted", out)
        assert command, out
        assert station.received_calls[-1][0] == "Reset"

        create = "wattlane.api.csms.v1.CommandService/CreateCommand"
        execute = "wattlane.api.csms.v1.CsmsInternalService/ExecuteCommand"
        hops = ("wattlane stations reset", create, execute, "OCPP Reset")
        spans = assert_one_trace(await collector.wait(trace_id, has(*hops)), hops)
        assert_child(spans, create, "wattlane stations reset")  # CLI → CSMS A
        assert_child(spans, execute, create)  # A → B, the process holding the socket
        assert_child(spans, "OCPP Reset", execute)  # B → the station
        assert {spans[hop].service for hop in hops[1:]} == {"wattlane-csms"}
        call = spans["OCPP Reset"]
        assert (call.kind, call.attributes["ocpp.station"], call.attributes["ocpp.version"]) == (
            CLIENT,
            "TR-1",
            "ocpp1.6",
        )

        # The CALL and the station's answer in the message log (B writes it behind), by trace id.
        out_, in_ = stations_pb2.StationMessage.OUT, stations_pb2.StationMessage.IN
        by_trace = stations_pb2.ListStationMessagesRequest(
            parent="stations/TR-1", filter=f'trace_id = "{trace_id}"'
        )

        async def logged() -> bool:
            return len((await api.stations.ListStationMessages(by_trace)).messages) >= 2

        await eventually_async(logged, what="the CALL and its answer in the message log")
        messages = (await api.stations.ListStationMessages(by_trace)).messages
        assert [(m.direction, m.message_type, m.action, m.trace_id) for m in messages] == [
            (in_, 3, "Reset", trace_id),  # newest first: the CALLRESULT
            (out_, 2, "Reset", trace_id),
        ]
        assert messages[1].message_id == call.attributes["ocpp.message_id"]

        # The command's audit entry (written by A) and B's JSON log line of its outcome.
        entries = await api.audit.ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(filter=f'resource = "{command.group(1)}"')
        )
        assert [e.trace_id for e in entries.audit_entries] == [trace_id]
        lines = [json.loads(line) for line in (tmp_path / "b" / "csms.log").read_text().splitlines()]
        outcome = [line for line in lines if line.get("station") == "TR-1" and line.get("action") == "Reset"]
        assert [(line["state"], line["trace_id"]) for line in outcome] == [("accepted", trace_id)]
    finally:
        await api.close()
        await station.close()
        await stack.stop()
        await tree.close()
