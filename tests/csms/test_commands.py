"""CommandService over real gRPC with a real identity and real simulated stations (1.6 and
2.0.1): answers Accepted / Rejected / none, per-version payloads, bad input, offline stations,
idempotency, and tenancy (a sibling organization neither sees nor sends)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from wattlane.api.common.v1 import audit_pb2
from wattlane.api.csms.v1 import commands_pb2 as C
from wattlane.api.identity.v1 import tenants_pb2
from wattlane.core.clients.csms import CsmsClient
from wattlane.core.errors import field_violations
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.csms.service import CsmsService
from wattlane.csms.settings import CsmsSettings
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import TreeBuilder
from wattlane.simulator.station import SimStation, default_handlers

PASSWORD = "demo-password-0123456"
State = C.Command.State


@dataclass
class Stack:
    csms: CsmsService
    org_a: tenants_pb2.Tenant
    a: CsmsClient  # organization admin of org A (owns the stations)
    b: CsmsClient  # organization admin of the sibling org B
    viewer: CsmsClient  # an employee of org A: sees the tenant, may not act on stations
    stations: list[SimStation]

    async def station(self, identity: str, protocol: str = "ocpp1.6") -> SimStation:
        station = SimStation(
            identity,
            f"ws://127.0.0.1:{self.csms.port}/ocpp",
            protocol=protocol,
            password=PASSWORD,
            handlers=default_handlers(protocol),
        )
        await station.connect()
        await station.boot()
        self.stations.append(station)
        assert self.csms.storage is not None
        await self.csms.storage.registry.writer.flush()
        return station


@pytest.fixture
async def stack(
    databases: DatabaseFactory, identity: IdentityService, tree: TreeBuilder
) -> AsyncIterator[Stack]:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    org_a = await tree.tenant(customer.name, "ORGANIZATION")
    org_b = await tree.tenant(customer.name, "ORGANIZATION")
    csms = CsmsService(
        CsmsSettings(
            port=0,
            metrics_port=-1,
            grpc_port=0,
            database_url=await databases.create("csmscmd"),
            identity_address=f"127.0.0.1:{identity.port}",
            demo_pattern=r"A-\d+",
            demo_password=PASSWORD,
            demo_owner=org_a.name.removeprefix("tenants/"),
            demo_owner_path=org_a.path,
            process_id="csms-commands",
            call_timeout=1.0,
        )
    )
    await csms.start()
    target = f"127.0.0.1:{csms.grpc_port}"
    member_a = await tree.member(org_a.name, [("organization-admin", org_a.name)])
    member_b = await tree.member(org_b.name, [("organization-admin", org_b.name)])
    viewer = await tree.member(org_a.name, [("employee", org_a.name)])
    a, b, v = (CsmsClient(target, m.client.token) for m in (member_a, member_b, viewer))
    clients = [a, b, v]
    result = Stack(csms, org_a, a, b, v, stations=[])
    yield result
    for station in result.stations:
        await station.close()
    for client in clients:
        await client.close()
    await csms.stop()


def _create(identity: str, request_id: str = "", **action: Any) -> C.CreateCommandRequest:
    return C.CreateCommandRequest(
        parent=f"stations/{identity}", command=C.Command(**action), request_id=request_id
    )


def _answer(command: C.Command) -> dict[str, Any]:
    return json_format.MessageToDict(command.station_answer)


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_answers_accepted_rejected_and_none(stack: Stack, protocol: str) -> None:
    station = await stack.station("A-1", protocol)
    done = await stack.a.commands.CreateCommand(_create("A-1", reset=C.Reset(hard=True)))
    assert (done.state, done.station_status, done.ocpp_action) == (State.ACCEPTED, "Accepted", "Reset")
    assert station.received_calls[-1] == ("Reset", {"type": "Hard" if protocol == "ocpp1.6" else "Immediate"})
    assert done.requested_by.startswith("users/") and done.HasField("finish_time")

    station.script("UnlockConnector", "Rejected")
    target = C.Target(connector_id=1) if protocol == "ocpp1.6" else C.Target(evse_id=1, connector_id=1)
    refused = await stack.a.commands.CreateCommand(
        _create("A-1", unlock_connector=C.UnlockConnector(target=target))
    )
    assert (refused.state, refused.station_status) == (State.REJECTED, "UnlockFailed")

    station.script("ChangeAvailability", None)
    silent = await stack.a.commands.CreateCommand(
        _create("A-1", change_availability=C.ChangeAvailability(operative=False))
    )
    assert silent.state == State.TIMED_OUT and "in time" in silent.error

    start = await stack.a.commands.CreateCommand(_create("A-1", remote_start=C.RemoteStart(id_tag="CARD-1")))
    expected = "RemoteStartTransaction" if protocol == "ocpp1.6" else "RequestStartTransaction"
    assert (start.state, start.ocpp_action) == (State.ACCEPTED, expected)

    limit = await stack.a.commands.CreateCommand(
        _create("A-1", set_charging_limit=C.SetChargingLimit(limit_w=11000))
    )
    assert limit.state == State.ACCEPTED and limit.ocpp_action == "SetChargingProfile"

    listed = await stack.a.commands.ListCommands(C.ListCommandsRequest(parent="stations/A-1", page_size=2))
    assert [c.name for c in listed.commands] == [limit.name, start.name]
    page2 = await stack.a.commands.ListCommands(
        C.ListCommandsRequest(parent="stations/A-1", page_size=10, page_token=listed.next_page_token)
    )
    assert [c.name for c in page2.commands] == [silent.name, refused.name, done.name]
    timed_out = await stack.a.commands.ListCommands(
        C.ListCommandsRequest(parent="stations/-", filter='state = "TIMED_OUT"')
    )
    assert [c.name for c in timed_out.commands] == [silent.name]
    assert (await stack.a.commands.GetCommand(C.GetCommandRequest(name=refused.name))) == refused


async def test_version_specific_actions(stack: Stack) -> None:
    await stack.station("A-16", "ocpp1.6")
    await stack.station("A-201", "ocpp2.0.1")
    config = await stack.a.commands.CreateCommand(
        _create("A-16", get_configuration=C.GetConfiguration(keys=["HeartbeatInterval"]))
    )
    assert config.state == State.ACCEPTED
    assert _answer(config)["configurationKey"][0]["key"] == "HeartbeatInterval"
    variables = await stack.a.commands.CreateCommand(
        _create(
            "A-201",
            get_variables=C.GetVariables(
                variables=[C.VariableRef(component="OCPPCommCtrlr", variable="HeartbeatInterval")]
            ),
        )
    )
    assert variables.state == State.ACCEPTED
    assert _answer(variables)["getVariableResult"][0]["attributeValue"] == "300"
    with pytest.raises(grpc.aio.AioRpcError) as wrong:
        await stack.a.commands.CreateCommand(_create("A-201", get_configuration=C.GetConfiguration()))
    assert wrong.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "get_variables" in (
        wrong.value.details() or ""
    )
    logs = await stack.a.commands.CreateCommand(
        _create("A-201", get_diagnostics=C.GetDiagnostics(location="https://logs.example/up"))
    )
    assert (logs.state, logs.ocpp_action) == (State.ACCEPTED, "GetLog")
    firmware = await stack.a.commands.CreateCommand(
        _create("A-16", update_firmware=C.UpdateFirmware(location="https://fw.example/1.2.bin"))
    )
    assert firmware.state == State.ACCEPTED


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ({}, "command.action"),
        ({"trigger_message": C.TriggerMessage(message="Nope")}, "command.trigger_message.message"),
        ({"remote_start": C.RemoteStart(id_tag="")}, "command.remote_start.id_tag"),
        ({"remote_stop": C.RemoteStop(transaction_id="abc")}, "command.remote_stop.transaction_id"),
        ({"unlock_connector": C.UnlockConnector()}, "command.unlock_connector.target.connector_id"),
        ({"set_charging_limit": C.SetChargingLimit(limit_w=0)}, "command.set_charging_limit.limit_w"),
        ({"update_firmware": C.UpdateFirmware(location="nowhere")}, "command.update_firmware.location"),
        (
            {"change_availability": C.ChangeAvailability(target=C.Target(connector_id=-1))},
            "command.change_availability.target.connector_id",
        ),
    ],
)
async def test_bad_input_names_the_field(stack: Stack, action: dict[str, Any], field: str) -> None:
    await stack.station("A-2")
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stack.a.commands.CreateCommand(_create("A-2", **action))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(bad.value)] == [field]


async def test_bad_names_and_offline_stations(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stack.a.commands.CreateCommand(C.CreateCommandRequest(parent="station/x", command=C.Command()))
    assert [v.field for v in field_violations(bad.value)] == ["parent"]
    with pytest.raises(grpc.aio.AioRpcError) as bad_name:
        await stack.a.commands.GetCommand(C.GetCommandRequest(name="stations/A-1/commands/"))
    assert [v.field for v in field_violations(bad_name.value)] == ["name"]
    station = await stack.station("A-3")
    await station.close()
    assert stack.csms.storage is not None
    await stack.csms.storage.registry.writer.flush()
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await stack.a.commands.CreateCommand(_create("A-3", reset=C.Reset()))
    assert gone.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stack.a.commands.CreateCommand(_create("A-404", reset=C.Reset()))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_retried_request_is_sent_once(stack: Stack) -> None:
    station = await stack.station("A-4")
    first = await stack.a.commands.CreateCommand(_create("A-4", "rid-1", reset=C.Reset()))
    again = await stack.a.commands.CreateCommand(_create("A-4", "rid-1", reset=C.Reset()))
    assert again == first
    assert [a for a, _ in station.received_calls].count("Reset") == 1
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await stack.a.commands.CreateCommand(_create("A-4", "rid-1", reset=C.Reset(hard=True)))
    assert [v.field for v in field_violations(reused.value)] == ["request_id"]


async def test_a_sibling_organization_neither_sees_nor_sends(stack: Stack) -> None:
    station = await stack.station("A-5")
    sent = await stack.a.commands.CreateCommand(_create("A-5", reset=C.Reset()))
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await stack.b.commands.CreateCommand(_create("A-5", reset=C.Reset(hard=True)))
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as unseen:
        await stack.b.commands.GetCommand(C.GetCommandRequest(name=sent.name))
    assert unseen.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await stack.b.commands.ListCommands(C.ListCommandsRequest(parent="stations/-"))
    assert list(listed.commands) == []
    with pytest.raises(grpc.aio.AioRpcError) as viewer:
        await stack.viewer.commands.CreateCommand(_create("A-5", reset=C.Reset(hard=True)))
    assert viewer.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert [a for a, _ in station.received_calls].count("Reset") == 1


async def test_a_command_is_audited_once_in_its_transaction_and_only_its_owners_read_it(
    stack: Stack,
) -> None:
    await stack.station("A-9")
    asked = _create("A-9", request_id="audit-1", reset=C.Reset(hard=True))
    done = await stack.a.commands.CreateCommand(asked)
    again = await stack.a.commands.CreateCommand(asked)  # a retry replays: no second entry
    assert again.name == done.name
    by_resource = audit_pb2.ListAuditEntriesRequest(filter=f'resource = "{done.name}"')
    entries = list((await stack.a.audit.ListAuditEntries(by_resource)).audit_entries)
    assert len(entries) == 1
    entry = entries[0]
    assert entry.actor == "user:" + done.requested_by.removeprefix("users/")  # who
    assert entry.method.endswith("CreateCommand")  # what
    assert list(entry.changed_fields) == ["ocpp_action", "station"]
    assert (entry.resource, entry.tenant_path) == (done.name, stack.org_a.path)  # which resource
    # The sibling organization's admin reads audit entries of their own tree only.
    assert list((await stack.b.audit.ListAuditEntries(by_resource)).audit_entries) == []
    everything = (await stack.b.audit.ListAuditEntries(audit_pb2.ListAuditEntriesRequest())).audit_entries
    assert [e for e in everything if e.tenant_path.startswith(stack.org_a.path)] == []
