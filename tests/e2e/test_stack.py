"""End-to-end tests on one started stack of real processes (tests/conftest.py: `real_stack`).

Every process looks the same from outside (OPERATIONS.md): `serve | migrate | settings`, one
side port with `/metrics` (promtool-clean), `/healthz` and `/readyz`, and a SIGTERM that turns
the process not-ready before it stops. And the services work together as in production,
configured only through the environment, talking gRPC."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import inspect

from tests.assets.helpers import location, point, uid
from tests.support.assets import AssetsStack, Org, organization
from tests.support.processes import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Process,
    RealStack,
    common_env,
    environment_without_wattlane,
    free_port,
    http_get,
    ws_url,
)
from wattlane.api.assets.v1 import cards_pb2
from wattlane.api.assets.v1 import charging_points_pb2 as cp_pb2
from wattlane.api.assets.v1 import internal_pb2 as assets_internal_pb2
from wattlane.api.csms.v1 import commands_pb2
from wattlane.api.identity.v1 import accounts_pb2, auth_pb2, internal_pb2_grpc, tenants_pb2, users_pb2
from wattlane.cli.observe import query, start_prometheus
from wattlane.cli.stack import Child, Stack, wait_ready
from wattlane.core.client import channel
from wattlane.core.clients.assets import AssetsClient
from wattlane.core.clients.csms import CsmsClient
from wattlane.core.clients.identity import IdentityClient
from wattlane.core.db import Database
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.core.testing.promtool import check_metrics, prometheus
from wattlane.identity.testing import TreeBuilder, unique
from wattlane.ops.dashboards import DASHBOARDS
from wattlane.ops.dashboards.common import WAITING
from wattlane.simulator.station import SimStation

SERVICES = ["identity", "billing", "assets", "csms", "worker"]
# What the worker lacks: a database (`migrate` has nothing to do) and a gRPC port.
WITHOUT_DATABASE = {"worker"}


@pytest.mark.parametrize("name", SERVICES)
async def test_the_side_port_answers_health_readiness_and_clean_metrics(
    real_stack: RealStack, name: str
) -> None:
    process = real_stack[name]
    assert http_get(process.side_port, "/healthz")[0] == 200
    assert http_get(process.side_port, "/readyz") == (200, b"ready\n")
    if name == "identity":  # one real call, so the RPC metrics have samples
        admin = await IdentityClient(process.grpc).login(ADMIN_EMAIL, ADMIN_PASSWORD)
        await admin.tenants.ListTenants(tenants_pb2.ListTenantsRequest())
        await admin.close()
    if name == "worker":  # the SDK reports its pollers once they poll (just after ready)
        await wait_metric(process, "temporal_num_pollers{")
    station = await booted_station(real_stack) if name == "csms" else None
    status, metrics = http_get(process.side_port, "/metrics")
    if station is not None:
        await station.close()
    assert status == 200
    text = metrics.decode()
    assert f'wattlane_process_ready{{service="{name}"}} 1.0' in text
    assert f'wattlane_event_loop_lag_seconds_count{{service="{name}"}}' in text
    if name == "identity":
        assert 'grpc_method="ListTenants"' in text
        assert 'wattlane_outbox_pending{outbox="approvals"}' in text
    if name == "worker":  # the Temporal SDK's own metrics beside ours, and our outcomes
        assert "\n# TYPE temporal_request_total counter\n" in text
        assert 'temporal_num_pollers{namespace="default",poller_type="activity_task"' in text
        assert 'wattlane_workflow_outcomes_total{outcome="approved",workflow="ApplicationApproval"}' in text
    if name == "csms":  # the station connected through assets' credentials, booted and is counted
        assert 'wattlane_ocpp_connected_stations{version="ocpp1.6"} 1.0' in text
        boots = [line for line in text.splitlines() if line.startswith("wattlane_ocpp_messages_total{")]
        assert [b for b in boots if 'action="BootNotification"' in b and 'result="ok"' in b], boots
        assert 'wattlane_ocpp_handshake_rejections_total{reason="unknown_station"}' in text
        assert 'wattlane_outbox_pending{outbox="transactions"}' in text
    check_metrics(metrics)


async def wait_metric(process: Process, needle: str, timeout: float = 30.0) -> str:
    """The process's /metrics once it contains `needle`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        text = http_get(process.side_port, "/metrics")[1].decode()
        if needle in text:
            return text
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{process.name}'s /metrics never showed {needle!r}:\n{text[-3000:]}")
        await asyncio.sleep(0.2)


async def booted_station(real_stack: RealStack) -> SimStation:
    """A charging point created in assets, connected to the CSMS process with the key assets
    issued for it, booted (OCPP 1.6)."""
    identity, assets = real_stack["identity"], real_stack["assets"]
    admin = await IdentityClient(identity.grpc).login(ADMIN_EMAIL, ADMIN_PASSWORD)
    csms_token = (
        await admin.auth.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(client_id="csms", client_secret=real_stack.secrets["csms"])
        )
    ).access_token
    worker_token = (
        await admin.auth.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(client_id="worker", client_secret=real_stack.secrets["worker"])
        )
    ).access_token
    worker = channel(identity.grpc, token=worker_token, max_attempts=1)
    stack = AssetsStack(None, assets.grpc, csms_token, internal_pb2_grpc.IdentityInternalServiceStub(worker))  # type: ignore[arg-type]
    tree = TreeBuilder(admin)
    try:
        org: Org = await organization(tree, stack)
        client = AssetsClient(assets.grpc, org.admin.client.token)
        site = await location(client, org.org.name, display_name="Depot")
        point_ = await point(client, site.name, charging_enabled=True)
        key = (
            await client.charging_points.RotateAuthorizationKey(
                cp_pb2.RotateAuthorizationKeyRequest(name=point_.name)
            )
        ).authorization_key
        await client.close()
    finally:
        await tree.close()
        await worker.close(None)
        await admin.close()
    station = SimStation(point_.ocpp_identity, ws_url(real_stack["csms"]), password=key)
    await station.connect()
    assert (await station.boot())["status"] == "Accepted"
    stranger = SimStation("NOT-IN-ASSETS-1", ws_url(real_stack["csms"]), password=key)
    with pytest.raises(Exception, match="404"):
        await stranger.connect()
    return station


def run_command(process: Process, command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        process.argv(command),
        env={**environment_without_wattlane(), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("name", SERVICES)
def test_settings_prints_the_configuration_in_force_with_secrets_redacted(
    real_stack: RealStack, name: str
) -> None:
    process = real_stack[name]
    result = run_command(process, "settings", process.env)
    assert result.returncode == 0, result.stderr
    prefix = f"WATTLANE_{name.upper()}_"
    lines = {
        line.split("=", 1)[0]: line.split("=", 1)[1] for line in result.stdout.splitlines() if "=" in line
    }
    assert lines[f"{prefix}METRICS_PORT"].startswith(str(process.side_port))
    assert lines[f"{prefix}DRAIN_SECONDS"].startswith("0.5")
    for variable, value in process.env.items():
        if "SECRET" in variable or "PASSWORD" in variable:
            assert value not in result.stdout
            assert lines[variable].startswith("<redacted>")


@pytest.mark.parametrize("name", SERVICES)
async def test_a_malformed_setting_fails_naming_the_variable(real_stack: RealStack, name: str) -> None:
    process = real_stack[name]
    setting = "METRICS_PORT" if name in WITHOUT_DATABASE else "PORT"  # the worker has no gRPC port
    result = run_command(process, "serve", {**process.env, f"WATTLANE_{name.upper()}_{setting}": "fifty"})
    assert result.returncode == 2
    assert f"WATTLANE_{name.upper()}_{setting} must be an integer, got 'fifty'" in result.stderr


@pytest.mark.parametrize("name", SERVICES)
async def test_migrate_creates_the_schema_and_exits(
    databases: DatabaseFactory, real_stack: RealStack, name: str
) -> None:
    process = real_stack[name]
    if name in WITHOUT_DATABASE:
        result = await asyncio.to_thread(run_command, process, "migrate", process.env)
        assert result.returncode == 0, result.stderr
        assert f"{name} has no database: nothing to migrate" in result.stderr
        return
    url = await databases.create(f"migrate_{name}")
    env = {f"WATTLANE_{name.upper()}_DATABASE_URL": url}
    result = await asyncio.to_thread(run_command, process, "migrate", env)
    assert result.returncode == 0, result.stderr
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await db.dispose()
    assert "alembic_version" in tables
    assert "audit_log" in tables


@pytest.mark.parametrize("name", SERVICES)
async def test_sigterm_turns_not_ready_first_then_stops(
    databases: DatabaseFactory, real_stack: RealStack, tmp_path: Path, name: str
) -> None:
    """A second instance (the shared stack keeps running): after SIGTERM it answers /readyz with
    503 for the whole drain while still alive, then exits 0."""
    original = real_stack[name]
    prefix = name.upper()
    side_port, grpc_port = free_port(), free_port()
    env = {**original.env, **common_env(prefix, side_port), f"WATTLANE_{prefix}_DRAIN_SECONDS": "2"}
    if name not in WITHOUT_DATABASE:
        env[f"WATTLANE_{prefix}_PORT"] = str(grpc_port)
        env[f"WATTLANE_{prefix}_DATABASE_URL"] = await databases.create(f"sigterm_{name}")
    if name == "csms":  # PORT is its WebSocket; gRPC elsewhere; a station from the static list
        env |= {
            "WATTLANE_CSMS_GRPC_PORT": str(free_port()),
            "WATTLANE_CSMS_ASSETS_ADDRESS": "",
            "WATTLANE_CSMS_STATIONS": "TERM-1:term-password-0123",
        }
    process = Process(name, env, side_port, grpc_port)
    stack = Stack()
    child = Child(name, process.argv(), env, tmp_path / f"{name}.log")
    try:
        await stack.start(child)
        await wait_ready(child, side_port)
        station = None
        if name == "csms":
            station = SimStation("TERM-1", ws_url(process), password="term-password-0123")
            await station.connect()
            assert (await station.boot())["status"] == "Accepted"
        assert child.process is not None
        child.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert child.alive()
        assert http_get(side_port, "/readyz") == (503, b"draining\n")
        assert http_get(side_port, "/healthz")[0] == 200  # alive: do not restart it
        if station is not None:  # connected through the drain, then closed with 1001 (going away)
            assert station.connected
            code, _ = await station.wait_closed(timeout=20)
            assert code == 1001
        assert await asyncio.wait_for(child.process.wait(), 30) == 0
        assert http_get(side_port, "/readyz")[0] == 0  # the port is closed
    finally:
        await stack.stop()


async def test_station_lifecycle_across_processes(real_stack: RealStack) -> None:
    """A station is added in assets, its key verified the way the CSMS will, and a card decided on."""
    identity, assets = real_stack["identity"], real_stack["assets"]
    admin = await IdentityClient(identity.grpc).login(ADMIN_EMAIL, ADMIN_PASSWORD)
    csms_token = (
        await admin.auth.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(client_id="csms", client_secret=real_stack.secrets["csms"])
        )
    ).access_token
    worker_token = (
        await admin.auth.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(client_id="worker", client_secret=real_stack.secrets["worker"])
        )
    ).access_token
    worker = channel(identity.grpc, token=worker_token, max_attempts=1)
    stack = AssetsStack(None, assets.grpc, csms_token, internal_pb2_grpc.IdentityInternalServiceStub(worker))  # type: ignore[arg-type]
    tree = TreeBuilder(admin)
    try:
        org: Org = await organization(tree, stack)
        client = AssetsClient(assets.grpc, org.admin.client.token)
        site = await location(client, org.org.name, display_name="Depot")
        station = await point(client, site.name, charging_enabled=True)
        key = (
            await client.charging_points.RotateAuthorizationKey(
                cp_pb2.RotateAuthorizationKeyRequest(name=station.name)
            )
        ).authorization_key
        csms = AssetsClient(assets.grpc, csms_token)
        verifier = await csms.internal.GetStationCredential(
            assets_internal_pb2.GetStationCredentialRequest(identity=station.ocpp_identity)
        )
        assert hmac.compare_digest(
            hmac.new(verifier.key_salt, key.encode(), hashlib.sha256).digest(), verifier.key_digest
        )
        holder = await tree.member(org.org.name)
        tag = await client.cards.CreateCard(
            cards_pb2.CreateCardRequest(parent=holder.user.name, card=cards_pb2.Card(uid=uid()))
        )
        decision = await csms.internal.DecideAccess(
            assets_internal_pb2.DecideAccessRequest(identity=station.ocpp_identity, id_token=tag.uid)
        )
        assert decision.status == assets_internal_pb2.AccessDecision.ACCEPTED and decision.card == tag.name
        for c in (client, csms):
            await c.close()
    finally:
        await tree.close()
        await worker.close(None)
        await admin.close()


def sample(text: str, series: str) -> float:
    """The value of one series (`name{labels}` exactly as exposed) in an exposition; 0 if absent."""
    for line in text.splitlines():
        if line.startswith(f"{series} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def wait_sample(process: Process, series: str, at_least: float, timeout: float = 60.0) -> None:
    """Wait until `series` on the process's /metrics reaches `at_least`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (value := sample(http_get(process.side_port, "/metrics")[1].decode(), series)) < at_least:
        assert asyncio.get_running_loop().time() < deadline, f"{series} = {value}, expected {at_least}"
        await asyncio.sleep(0.2)


async def test_the_worker_sends_an_invitation_mail_and_counts_it(real_stack: RealStack) -> None:
    """Identity's outbox starts a user-mail workflow on Temporal; the worker process sends the
    mail to the SMTP sink and counts the outcome and the activity's time on its /metrics."""
    identity, worker = real_stack["identity"], real_stack["worker"]
    sent = 'wattlane_workflow_outcomes_total{outcome="sent",workflow="UserMailDelivery"}'
    timed = 'wattlane_activity_seconds_count{outcome="completed",workflow="UserMailDelivery"}'
    before = http_get(worker.side_port, "/metrics")[1].decode()
    admin = await IdentityClient(identity.grpc).login(ADMIN_EMAIL, ADMIN_PASSWORD)
    tree = TreeBuilder(admin)
    try:
        partner = await tree.tenant((await tree.root()).name, "PARTNER")
        email = f"{unique('invitee')}@example.test"
        user = await admin.users.CreateUser(
            users_pb2.CreateUserRequest(
                parent=partner.name, user=users_pb2.User(email=email, display_name="Ida")
            )
        )
        await admin.users.SendInvitation(users_pb2.SendInvitationRequest(user=user.name))
        await wait_sample(worker, sent, sample(before, sent) + 1)
        await wait_sample(worker, timed, sample(before, timed) + 1, timeout=5)
        mails = [m.read_text(errors="replace") for m in real_stack.mail_directory.glob("*.eml")]
        assert [m for m in mails if email in m], "the invitation is in the SMTP sink"
    finally:
        await tree.close()
        await admin.close()


# --- the dashboards against live metrics ----------------------------------------------------------
# A real Prometheus server (Debian's `prometheus`) scrapes every process of this shared stack with
# the chart's rules loaded, traffic goes through (a station connects, boots and charges a session,
# a CALLERROR, a disconnect, RPCs, a user-mail workflow), and every panel's query must parse on the
# server and return series — except the panels marked as waiting for a product not built yet
# (billing's process, the campaign workflow), which must still return nothing (so their mark goes
# once they can show data). Grafana itself cannot run here: the panels' queries are what it would
# send. Without the prometheus binary this skips saying so; CI (WATTLANE_REQUIRE_PROMTOOL=1) fails.

SCRAPE = "1s"
RATE_INTERVAL = "1m"  # what Grafana's $__rate_interval would be for the range shown


@pytest.fixture(scope="module")
async def observed(real_stack: RealStack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """Prometheus scraping every process of the stack every second, the chart's rules loaded."""
    binary = prometheus()
    targets = {name: process.side_port for name, process in real_stack.processes.items()}
    stack = Stack()
    try:
        url = await start_prometheus(
            stack, binary, tmp_path_factory.mktemp("prometheus"), free_port(), targets, SCRAPE
        )
        await until(url, "count(up == 1)", len(targets))
        await drive_traffic(real_stack)
        # Two scrapes of everything the traffic moved, and the rules evaluated on them.
        await until(url, 'count(slo:sli_error:ratio_rate5m{slo="ocpp-call-success"})', 1)
        await asyncio.sleep(3)
        yield url
    finally:
        await stack.stop()


async def until(url: str, expr: str, at_least: float, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = (await asyncio.to_thread(query, url, expr))["result"]
        if result and float(result[0]["value"][1]) >= at_least:
            return
        assert time.monotonic() < deadline, f"{expr} never reached {at_least}: {result}"
        await asyncio.sleep(0.5)


async def drive_traffic(real_stack: RealStack) -> None:
    """Stations boot, one charges a session, one frame draws a CALLERROR, a station leaves; RPCs
    on identity; an invitation mail through Temporal and the worker."""
    station = await booted_station(real_stack)
    await station.heartbeat()
    await station.status(1, "Available")
    await station.authorize("DASHBOARD-CARD")
    transaction = await station.start_transaction(1, "DASHBOARD-CARD", 0)
    await station.meter_values(1, transaction, 1500, power_w=11000)
    await station.stop_transaction(transaction, 3000, reason="Local")
    await station.send_raw('[2,"dash-1","NoSuchAction",{}]')  # NotImplemented CALLERROR

    admin = await IdentityClient(real_stack["identity"].grpc).login(ADMIN_EMAIL, ADMIN_PASSWORD)
    tree = TreeBuilder(admin)
    csms = CsmsClient(real_stack["csms"].grpc, admin.token)
    try:
        # A remote reset by the platform's admin: a command out to the station, answered. The
        # registry writes the station's owner behind the replies: NOT_FOUND until it has.
        deadline = time.monotonic() + 20
        while True:
            try:
                await csms.commands.CreateCommand(
                    commands_pb2.CreateCommandRequest(
                        parent=f"stations/{station.identity}",
                        command=commands_pb2.Command(reset=commands_pb2.Reset()),
                    )
                )
                break
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        await station.close()  # a disconnect
        await admin.tenants.ListTenants(tenants_pb2.ListTenantsRequest())
        partner = await tree.tenant((await tree.root()).name, "PARTNER")
        user = await admin.users.CreateUser(
            users_pb2.CreateUserRequest(
                parent=partner.name,
                user=users_pb2.User(email=f"{unique('dash')}@example.test", display_name="Dee"),
            )
        )
        await admin.users.SendInvitation(users_pb2.SendInvitationRequest(user=user.name))
        await approve_an_application(tree, partner.name)
    finally:
        await csms.close()
        await tree.close()
        await admin.close()


async def approve_an_application(tree: TreeBuilder, partner: str) -> None:
    """A customer's admin applies for an account; Customer Success approves it (identity, then
    the approval workflow on the worker)."""
    root = (await tree.root()).name
    customer = await tree.tenant(partner, "CUSTOMER")
    org = await tree.tenant(customer.name, "ORGANIZATION")
    requester = await tree.member(customer.name, [("organization-admin", customer.name)])
    cs = await tree.member(root, [("customer-success", root)])
    account = accounts_pb2.Account(
        display_name="Dashboards",
        plan="business",
        datapoints=25,
        sector="logistics",
        organizations=[org.name],
    )
    application = await requester.client.applications.CreateApplication(
        accounts_pb2.CreateApplicationRequest(
            parent=customer.name,
            application=accounts_pb2.Application(
                kind=accounts_pb2.Application.CREATE_ACCOUNT, new_account=account
            ),
        )
    )
    deadline = time.monotonic() + 30
    while True:  # the outbox relay starts the workflow just after the application commits
        try:
            decided = await cs.client.applications.ApproveApplication(
                accounts_pb2.ApproveApplicationRequest(name=application.name)
            )
            break
        except grpc.aio.AioRpcError as error:
            retry = error.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNAVAILABLE)
            if not retry or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)
    assert decided.state == accounts_pb2.Application.APPROVED


def targets() -> list[tuple[str, str, str, bool]]:
    """(dashboard uid, panel title, expr, waiting) of every panel query, as Grafana sends it."""
    found = []
    for build in DASHBOARDS.values():
        board: dict[str, Any] = build()
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$__rate_interval", RATE_INTERVAL)
                found.append((board["uid"], panel["title"], expr, (board["uid"], panel["title"]) in WAITING))
    return found


async def test_every_panel_query_returns_series_from_the_running_stack(observed: str) -> None:
    missing, early = [], []
    for board, title, expr, waiting in targets():
        data = await asyncio.to_thread(query, observed, expr)  # a parse error raises
        if waiting and data["result"]:
            early.append(
                f"{board}: {title!r} shows data now: remove its waiting mark ({WAITING[(board, title)]})"
            )
        elif not waiting and not data["result"]:
            missing.append(f"{board}: {title!r}: {expr}")
    assert not missing, "panels without data from the running stack:\n" + "\n".join(missing)
    assert not early, "\n".join(early)


async def test_prometheus_loaded_the_chart_rules_and_scrapes_every_process(
    observed: str, real_stack: RealStack
) -> None:
    up = (await asyncio.to_thread(query, observed, "up"))["result"]
    assert sorted(s["metric"]["job"] for s in up if s["value"][1] == "1") == sorted(real_stack.processes)
    recorded = (await asyncio.to_thread(query, observed, "count by (slo) (slo:sli_error:ratio_rate5m)"))[
        "result"
    ]
    assert {s["metric"]["slo"] for s in recorded} >= {"grpc-availability", "ocpp-call-success"}, json.dumps(
        recorded
    )
