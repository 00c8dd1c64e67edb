"""Remote actions in OCPP terms (pure): every action builds a schema-valid request in each OCPP
version that has it, and answers map to final states."""

from __future__ import annotations

import datetime as dt

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from wattlane.api.assets.v1 import internal_pb2 as assets
from wattlane.api.csms.v1 import commands_pb2 as C
from wattlane.core.errors import FailedPrecondition
from wattlane.csms.api.command_convert import ocpp_request
from wattlane.csms.commands.states import CommandState, outcome
from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.protocol.schemas import schema_set

VAR = C.VariableRef(component="OCPPCommCtrlr", variable="HeartbeatInterval")
ACTIONS: dict[str, C.Command] = {
    "trigger": C.Command(trigger_message=C.TriggerMessage(message="StatusNotification")),
    "availability": C.Command(change_availability=C.ChangeAvailability(operative=True)),
    "reset": C.Command(reset=C.Reset(hard=True)),
    "start": C.Command(remote_start=C.RemoteStart(id_tag="04A1B2C3")),
    "stop": C.Command(remote_stop=C.RemoteStop(transaction_id="42")),
    "firmware": C.Command(update_firmware=C.UpdateFirmware(location="https://fw.example/x.bin")),
    "diagnostics": C.Command(get_diagnostics=C.GetDiagnostics(location="ftp://logs.example/")),
    "limit": C.Command(set_charging_limit=C.SetChargingLimit(limit_w=7400)),
    "clear": C.Command(clear_charging_limit=C.ClearChargingLimit()),
    "local_list": C.Command(send_local_list=C.SendLocalList()),
}
V16_TARGET = C.Target(connector_id=1)
V201_TARGET = C.Target(evse_id=1, connector_id=1)


def _local_list() -> assets.LocalAuthorizationList:
    expire = Timestamp()
    expire.FromDatetime(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    return assets.LocalAuthorizationList(
        entries=[
            assets.LocalAuthorization(id_token="04A1B2C3", status=assets.AccessDecision.ACCEPTED),
            assets.LocalAuthorization(
                id_token="04FFEE", status=assets.AccessDecision.BLOCKED, expire_time=expire
            ),
        ]
    )


@pytest.mark.parametrize("version", list(OcppVersion))
def test_every_action_builds_a_schema_valid_request(version: OcppVersion) -> None:
    schemas = schema_set(version)
    target = V16_TARGET if version is OcppVersion.V16 else V201_TARGET
    commands = dict(ACTIONS)
    commands["unlock"] = C.Command(unlock_connector=C.UnlockConnector(target=target))
    commands["limit_connector"] = C.Command(
        set_charging_limit=C.SetChargingLimit(
            target=target if version is OcppVersion.V16 else C.Target(evse_id=1), limit_w=3680
        )
    )
    if version is OcppVersion.V16:
        commands["get_config"] = C.Command(get_configuration=C.GetConfiguration(keys=["HeartbeatInterval"]))
        commands["change_config"] = C.Command(
            change_configuration=C.ChangeConfiguration(key="HeartbeatInterval", value="60")
        )
    else:
        commands["get_vars"] = C.Command(get_variables=C.GetVariables(variables=[VAR]))
        commands["set_vars"] = C.Command(
            set_variables=C.SetVariables(values=[C.VariableValue(variable=VAR, value="60")])
        )
    for name, command in commands.items():
        request = ocpp_request(command, version.value, 7, _local_list(), 1_795_000_000)
        schemas.validate_request(request.action, request.payload)  # raises on a violation
        assert request.action, name


def test_actions_of_one_version_only() -> None:
    with pytest.raises(FailedPrecondition, match="get_variables"):
        ocpp_request(C.Command(get_configuration=C.GetConfiguration()), "ocpp2.0.1", 1)
    with pytest.raises(FailedPrecondition, match="change_configuration"):
        ocpp_request(C.Command(set_variables=C.SetVariables()), "ocpp1.6", 1)
    with pytest.raises(FailedPrecondition, match="assets"):
        ocpp_request(C.Command(send_local_list=C.SendLocalList()), "ocpp1.6", 1)


def test_local_lists_per_version() -> None:
    v16 = ocpp_request(ACTIONS["local_list"], "ocpp1.6", 1, _local_list(), 5).payload
    assert v16["localAuthorizationList"][1] == {
        "idTag": "04FFEE",
        "idTagInfo": {"status": "Blocked", "expiryDate": "2030-01-01T00:00:00Z"},
    }
    v201 = ocpp_request(ACTIONS["local_list"], "ocpp2.0.1", 1, assets.LocalAuthorizationList(), 6).payload
    assert v201 == {"versionNumber": 6, "updateType": "Full"}  # an empty list clears it


@pytest.mark.parametrize(
    ("action", "answer", "state", "status"),
    [
        ("Reset", {"status": "Accepted"}, CommandState.ACCEPTED, "Accepted"),
        ("ChangeAvailability", {"status": "Scheduled"}, CommandState.ACCEPTED, "Scheduled"),
        ("UnlockConnector", {"status": "UnlockFailed"}, CommandState.REJECTED, "UnlockFailed"),
        ("GetConfiguration", {"configurationKey": []}, CommandState.ACCEPTED, ""),
        (
            "SetVariables",
            {"setVariableResult": [{"attributeStatus": "Accepted"}, {"attributeStatus": "Rejected"}]},
            CommandState.REJECTED,
            "Rejected",
        ),
    ],
)
def test_answers_map_to_states(
    action: str, answer: dict[str, object], state: CommandState, status: str
) -> None:
    result = outcome(action, answer)
    assert (result.state, result.station_status) == (state, status)
