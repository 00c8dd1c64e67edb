"""Station-initiated messages, OCPP 2.0.1 and 1.6, against a live CSMS.

Tests carry the official OCPP CSMS test-case ids where one fits (2.0.1: TC_B_01_CSMS cold boot;
1.6: TC_001_CSMS cold boot, TC_023_1/2/3_CSMS authorize invalid/expired/blocked, TC_064_CSMS data
transfer); each scenario runs with 1.6 and 2.0.1 payloads. Every reply is also checked
against the official response schema: the fixture runs the CSMS with `validate_responses=True`,
which turns a non-conforming reply into an InternalError the assertions would see.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.protocol.handlers import Session
from wattlane.csms.protocol.schemas import schema_set
from wattlane.csms.providers.interfaces import AccessDecision, AccessStatus, NoticeKind, PlatformStatus
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, eventually, running_csms
from wattlane.simulator import messages
from wattlane.simulator.station import SimCallError, SimStation

V16, V201 = messages.V16, messages.V201
PROTOCOLS = [V16, V201]


async def _station(csms: RunningCsms, protocol: str) -> SimStation:
    station = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
    await station.connect()
    return station


def _check_response(protocol: str, action: str, payload: dict[str, Any]) -> None:
    schema_set(OcppVersion(protocol)).validate_response(action, payload)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_TC_B_01_CSMS_and_TC_001_CSMS_cold_boot_accepted(csms: RunningCsms, protocol: str) -> None:
    station = await _station(csms, protocol)
    answer = await station.boot(serial_number="SN-1", firmware_version="4.2")
    _check_response(protocol, "BootNotification", answer)
    assert answer["status"] == "Accepted"
    assert answer["interval"] == 300
    current = datetime.fromisoformat(answer["currentTime"])
    assert abs((current - datetime.now(UTC)).total_seconds()) < 5
    boot = csms.memory.events.boots["CS001"]
    assert (boot.vendor, boot.model, boot.serial_number, boot.firmware_version) == (
        "Wattlane",
        "Sim-1",
        "SN-1",
        "4.2",
    )
    assert boot.version == OcppVersion(protocol)
    assert boot.accepted
    # After the boot the station reports its connectors and heartbeats.
    assert await station.status(1, "Available") == {}
    heartbeat = await station.heartbeat()
    _check_response(protocol, "Heartbeat", heartbeat)
    await station.close()


@pytest.mark.parametrize(
    ("ocpp_status", "platform"),
    [
        ("Available", PlatformStatus.AVAILABLE),
        ("Preparing", PlatformStatus.OCCUPIED),
        ("Charging", PlatformStatus.CHARGING),
        ("SuspendedEV", PlatformStatus.OCCUPIED),
        ("SuspendedEVSE", PlatformStatus.OCCUPIED),
        ("Finishing", PlatformStatus.OCCUPIED),
        ("Reserved", PlatformStatus.OCCUPIED),
        ("Unavailable", PlatformStatus.UNAVAILABLE),
        ("Faulted", PlatformStatus.FAULTED),
    ],
)
async def test_status_notification_v16_maps_to_platform_status(
    csms: RunningCsms, ocpp_status: str, platform: PlatformStatus
) -> None:
    station = await _station(csms, V16)
    error = "GroundFailure" if ocpp_status == "Faulted" else "NoError"
    await station.status(2, ocpp_status, error_code=error)
    change = csms.memory.events.statuses[("CS001", 2, 1)]
    assert change.status is platform
    assert change.ocpp_status == ocpp_status
    assert change.error_code == (None if error == "NoError" else error)
    await station.close()


async def test_status_notification_v16_connector_0_is_the_station(csms: RunningCsms) -> None:
    station = await _station(csms, V16)
    await station.status(0, "Unavailable")
    assert csms.memory.events.statuses[("CS001", 0, 0)].status is PlatformStatus.UNAVAILABLE
    await station.close()


@pytest.mark.parametrize(
    ("ocpp_status", "platform"),
    [
        ("Available", PlatformStatus.AVAILABLE),
        ("Occupied", PlatformStatus.OCCUPIED),
        ("Reserved", PlatformStatus.OCCUPIED),
        ("Unavailable", PlatformStatus.UNAVAILABLE),
        ("Faulted", PlatformStatus.FAULTED),
    ],
)
async def test_status_notification_v201_maps_to_platform_status(
    csms: RunningCsms, ocpp_status: str, platform: PlatformStatus
) -> None:
    station = await _station(csms, V201)
    await station.status(2, ocpp_status, evse_id=3)
    change = csms.memory.events.statuses[("CS001", 3, 2)]
    assert change.status is platform
    assert change.ocpp_status == ocpp_status
    await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_online_offline_follow_the_socket(csms: RunningCsms, protocol: str) -> None:
    station = await _station(csms, protocol)
    await eventually(lambda: csms.memory.events.online.get("CS001") is True, what="online")
    assert csms.memory.events.versions["CS001"] == OcppVersion(protocol)
    await station.close()
    await eventually(lambda: csms.memory.events.online.get("CS001") is False, what="offline")


async def test_silent_station_is_closed_and_marked_offline() -> None:
    from wattlane.csms.protocol.options import CsmsOptions

    # heartbeat 1 s x silence factor 1.5: a station silent for 1.5 s is dropped.
    options = CsmsOptions(heartbeat_interval=1, silence_factor=1.5, validate_responses=True)
    async with running_csms(options=options) as csms:
        station = await _station(csms, V16)
        code, _ = await station.wait_closed(timeout=6)
        assert code == 1001
        await eventually(lambda: csms.memory.events.online.get("CS001") is False, what="offline")


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("status", "ocpp"),
    [
        (AccessStatus.ACCEPTED, "Accepted"),
        (AccessStatus.BLOCKED, "Blocked"),
        (AccessStatus.EXPIRED, "Expired"),
        (AccessStatus.INVALID, "Invalid"),
    ],
)
async def test_TC_023_CSMS_authorize_answers_the_access_decision(
    csms: RunningCsms, protocol: str, status: AccessStatus, ocpp: str
) -> None:
    expiry = datetime(2030, 1, 1, tzinfo=UTC)
    csms.memory.access.set("CARD-1", AccessDecision(status, expires_at=expiry, group_id="GROUP-1"))
    station = await _station(csms, protocol)
    answer = await station.authorize("CARD-1")
    _check_response(protocol, "Authorize", answer)
    if protocol == V16:
        assert answer["idTagInfo"] == {
            "status": ocpp,
            "expiryDate": "2030-01-01T00:00:00.000Z",
            "parentIdTag": "GROUP-1",
        }
    else:
        assert answer["idTokenInfo"]["status"] == ocpp
        assert answer["idTokenInfo"]["groupIdToken"]["idToken"] == "GROUP-1"
    await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_authorize_unknown_card_is_invalid(csms: RunningCsms, protocol: str) -> None:
    station = await _station(csms, protocol)
    answer = await station.authorize("NOBODY")
    key = "idTagInfo" if protocol == V16 else "idTokenInfo"
    assert answer[key]["status"] == "Invalid"
    await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_authorize_rides_out_a_provider_outage_for_known_cards(protocol: str) -> None:
    # ttl 0: every Authorize asks the provider, so the outage is really hit.
    async with running_csms(access_cache_ttl=0.0) as csms:
        csms.memory.access.set("KNOWN", AccessDecision(AccessStatus.ACCEPTED))
        station = await _station(csms, protocol)
        key = "idTagInfo" if protocol == V16 else "idTokenInfo"
        assert (await station.authorize("KNOWN"))[key]["status"] == "Accepted"
        csms.memory.access.available = False
        assert (await station.authorize("KNOWN"))[key]["status"] == "Accepted"
        with pytest.raises(SimCallError) as caught:
            await station.authorize("NEVER-SEEN")
        assert caught.value.code == "InternalError"
        assert "currentTime" in await station.heartbeat()
        await station.close()


async def test_authorize_decisions_are_cached_briefly(csms: RunningCsms) -> None:
    station = await _station(csms, V16)
    for _ in range(5):
        await station.authorize("CARD-C")
    assert csms.memory.access.calls == 1
    await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_firmware_status_notification_is_recorded(csms: RunningCsms, protocol: str) -> None:
    station = await _station(csms, protocol)
    status = "Downloaded"
    answer = await station.call("FirmwareStatusNotification", messages.firmware_status(protocol, status, 7))
    assert answer == {}
    notice = csms.memory.events.notices[-1]
    assert (notice.kind, notice.value) == (NoticeKind.FIRMWARE_STATUS, status)
    assert notice.request_id == (7 if protocol == V201 else None)
    await station.close()


async def test_diagnostics_status_notification_v16(csms: RunningCsms) -> None:
    station = await _station(csms, V16)
    assert await station.call("DiagnosticsStatusNotification", {"status": "Uploaded"}) == {}
    notice = csms.memory.events.notices[-1]
    assert (notice.kind, notice.value) == (NoticeKind.DIAGNOSTICS_STATUS, "Uploaded")
    await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_log_status_notification(csms: RunningCsms, protocol: str) -> None:
    station = await _station(csms, protocol)
    assert await station.call("LogStatusNotification", {"status": "Uploading", "requestId": 3}) == {}
    notice = csms.memory.events.notices[-1]
    assert (notice.kind, notice.value, notice.request_id) == (NoticeKind.LOG_STATUS, "Uploading", 3)
    await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_security_event_notification(csms: RunningCsms, protocol: str) -> None:
    station = await _station(csms, protocol)
    answer = await station.call(
        "SecurityEventNotification", messages.security_event("FirmwareUpdated", tech_info="v2")
    )
    assert answer == {}
    notice = csms.memory.events.notices[-1]
    assert (notice.kind, notice.value, notice.details) == (
        NoticeKind.SECURITY_EVENT,
        "FirmwareUpdated",
        {"techInfo": "v2"},
    )
    await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_TC_064_CSMS_data_transfer_unknown_vendor(csms: RunningCsms, protocol: str) -> None:
    station = await _station(csms, protocol)
    answer = await station.call("DataTransfer", {"vendorId": "com.example", "messageId": "x", "data": "1"})
    _check_response(protocol, "DataTransfer", answer)
    assert answer == {"status": "UnknownVendorId"}
    await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_data_transfer_registered_vendor(protocol: str) -> None:
    async def echo(session: Session, message_id: str | None, data: Any) -> tuple[str, Any]:
        return "Accepted", f"{session.identity}:{message_id}:{data}"

    async with running_csms(data_transfer={"org.wattlane": echo}) as csms:
        station = await _station(csms, protocol)
        answer = await station.call(
            "DataTransfer", {"vendorId": "org.wattlane", "messageId": "ping", "data": "1"}
        )
        _check_response(protocol, "DataTransfer", answer)
        assert answer == {"status": "Accepted", "data": "CS001:ping:1"}
        await station.close()


async def test_v16_transactions_answer_what_the_schema_requires(csms: RunningCsms) -> None:
    csms.memory.access.set("CARD-T", AccessDecision(AccessStatus.ACCEPTED))
    station = await _station(csms, V16)
    start = {"connectorId": 1, "idTag": "CARD-T", "meterStart": 0, "timestamp": messages.now()}
    first = await station.call("StartTransaction", start)
    repeated = await station.call("StartTransaction", start)
    second = await station.call("StartTransaction", {**start, "meterStart": 5})
    _check_response(V16, "StartTransaction", first)
    assert first["idTagInfo"]["status"] == "Accepted"
    assert isinstance(first["transactionId"], int)
    assert repeated["transactionId"] == first["transactionId"]  # a resent start, not a new one
    assert second["transactionId"] != first["transactionId"]
    sample = {"timestamp": messages.now(), "sampledValue": [{"value": "10"}]}
    meter = {"connectorId": 1, "transactionId": first["transactionId"], "meterValue": [sample]}
    assert await station.call("MeterValues", meter) == {}
    stop = {"transactionId": first["transactionId"], "meterStop": 1000, "timestamp": messages.now()}
    assert await station.call("StopTransaction", stop) == {}
    await station.close()


async def test_v201_transaction_event_is_acknowledged(csms: RunningCsms) -> None:
    station = await _station(csms, V201)
    event = {
        "eventType": "Started",
        "timestamp": messages.now(),
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-1"},
    }
    assert await station.call("TransactionEvent", event) == {}
    await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_message_log_records_every_frame(csms: RunningCsms, protocol: str) -> None:
    station = await _station(csms, protocol)
    await station.heartbeat()
    await station.send_raw("garbage")
    await station.next_unmatched()
    await station.close()
    await eventually(lambda: len(csms.memory.log_sink.entries) >= 4, what="log entries")
    entries = [
        (e.direction.value, e.message_type, e.action, e.error_code) for e in csms.memory.log_sink.entries
    ]
    bad_code = "FormationViolation" if protocol == V16 else "RpcFrameworkError"
    assert entries == [
        ("in", 2, "Heartbeat", None),
        ("out", 3, "Heartbeat", None),
        ("in", 0, None, None),
        ("out", 4, None, bad_code),
    ]
    assert all(e.identity == "CS001" for e in csms.memory.log_sink.entries)


def test_expiry_helpers_are_timezone_aware() -> None:
    from wattlane.csms.protocol.clock import ocpp_time, parse_ocpp_time

    moment = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert ocpp_time(moment) == "2026-05-06T07:08:09.123Z"
    assert parse_ocpp_time("2026-05-06T07:08:09Z", moment - timedelta(days=1)) == moment.replace(
        microsecond=0
    )
    assert parse_ocpp_time(None, moment) == moment
    assert parse_ocpp_time("nonsense", moment) == moment
