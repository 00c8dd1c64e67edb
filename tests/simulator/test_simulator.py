"""The simulator: payloads match the official schemas; a fleet and the CLI work against a real CSMS."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from wattlane.csms.protocol.errors import OcppVersion
from wattlane.csms.protocol.schemas import schema_set
from wattlane.csms.protocol.security import SecurityProfile, server_ssl_context
from wattlane.csms.providers.interfaces import AccessDecision, AccessStatus
from wattlane.csms.testing import DEFAULT_PASSWORD, eventually, running_csms
from wattlane.simulator import messages
from wattlane.simulator.certs import CertificateAuthority, DevPki
from wattlane.simulator.fleet import Fleet
from wattlane.simulator.station import SimCallError, SimStation, default_handlers, scripted_answer

PROTOCOLS = [messages.V16, messages.V201]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_payload_builders_match_the_official_schemas(protocol: str) -> None:
    schemas = schema_set(OcppVersion(protocol))
    schemas.validate_request("BootNotification", messages.boot_notification(protocol, serial_number="S"))
    schemas.validate_request("StatusNotification", messages.status_notification(protocol, 1, "Available"))
    schemas.validate_request("Authorize", messages.authorize(protocol, "CARD"))
    schemas.validate_request("FirmwareStatusNotification", messages.firmware_status(protocol, "Installed", 1))
    schemas.validate_request("SecurityEventNotification", messages.security_event("ResetOrReboot", "x"))


# Requests whose answer repeats parts of them (2.0.1 device model variables).
_VARIABLE = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
SAMPLE_REQUESTS: dict[str, dict[str, Any]] = {
    "GetVariables": {"getVariableData": [_VARIABLE]},
    "SetVariables": {"setVariableData": [{**_VARIABLE, "attributeValue": "60"}]},
    "ChangeConfiguration": {"key": "HeartbeatInterval", "value": "60"},
    "CostUpdated": {"totalCost": 4.25, "transactionId": "tx-1"},
    "DataTransfer": {
        "vendorId": "org.openchargealliance.costmsg",
        "messageId": "FinalCost",
        "data": '{"transactionId": 7, "cost": 4.25, "priceText": "EUR 4.25 for 10.000 kWh"}',
    },
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_default_handlers_answer_with_valid_responses(protocol: str) -> None:
    schemas = schema_set(OcppVersion(protocol))
    station = SimStation("X", "ws://unused", protocol=protocol)
    for action, handler in default_handlers(protocol).items():
        schemas.validate_response(action, await handler(station, SAMPLE_REQUESTS.get(action, {})))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("answer", ["Accepted", "Rejected"])
async def test_scripted_answers_are_valid_responses(protocol: str, answer: str) -> None:
    schemas = schema_set(OcppVersion(protocol))
    for action in default_handlers(protocol):
        reply = scripted_answer(action, answer, protocol, SAMPLE_REQUESTS.get(action, {}))
        schemas.validate_response(action, reply)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_fleet_comes_up_boots_and_heartbeats(protocol: str) -> None:
    async with running_csms(stations={f"SIM-{n}": DEFAULT_PASSWORD for n in range(1, 21)}) as csms:
        fleet = Fleet(csms.url, 20, protocol=protocol, password=DEFAULT_PASSWORD)
        report = await fleet.up(status="Available", concurrency=5)
        assert (report.connected, report.accepted, report.failed) == (20, 20, 0)
        assert len(csms.csms.registry) == 20
        assert len(csms.memory.events.statuses) == 20
        fleet.start_heartbeats(0.05)
        await eventually(
            lambda: sum(1 for e in csms.memory.log_sink.entries if e.action == "Heartbeat") >= 40,
            what="heartbeats from the fleet",
        )
        await fleet.down()
        await eventually(lambda: csms.memory.events.online_count() == 0, what="fleet offline")


async def test_fleet_reports_failures() -> None:
    async with running_csms(stations={"SIM-1": DEFAULT_PASSWORD}) as csms:
        fleet = Fleet(csms.url, 2, password=DEFAULT_PASSWORD)
        report = await fleet.up()
        assert (report.connected, report.failed) == (1, 1)
        assert "SIM-2" in report.errors[0]
        assert "404" in report.errors[0]
        await fleet.down()


async def test_station_call_errors_and_unmatched_frames() -> None:
    async with running_csms() as csms:
        station = SimStation("CS001", csms.url, password=DEFAULT_PASSWORD)
        await station.connect()
        with pytest.raises(SimCallError) as caught:
            await station.call("Heartbeat", {"unexpected": 1})
        assert caught.value.code == "FormationViolation"
        await station.send_raw('[2,"mine","Heartbeat",{}]')
        assert (await station.next_unmatched())[:2] == [3, "mine"]
        await station.close()


async def test_cli_runs_a_small_fleet() -> None:
    async with running_csms(stations={f"CLI-{n}": DEFAULT_PASSWORD for n in range(1, 4)}) as csms:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wattlane.simulator",
            "--url",
            csms.url,
            "--count",
            "3",
            "--prefix",
            "CLI-",
            "--protocol",
            "ocpp2.0.1",
            "--password",
            DEFAULT_PASSWORD,
            "--duration",
            "0.5",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(20):
            stdout, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
        assert "3/3 connected, 3 accepted, 0 failed" in stdout.decode()
        assert csms.memory.events.boots["CLI-2"].version is OcppVersion.V201


async def test_cli_stations_charge_through_a_fast_day_with_several_cards() -> None:
    async with running_csms(stations={f"DAY-{n}": DEFAULT_PASSWORD for n in range(1, 3)}) as csms:
        for card in ("CARD-A", "CARD-B"):
            csms.memory.access.set(card, AccessDecision(AccessStatus.ACCEPTED, payer="cardholder"))
        argv = ["--url", csms.url, "--count", "2", "--prefix", "DAY-", "--password", DEFAULT_PASSWORD]
        argv += ["--session-card", "CARD-A", "--session-card", "CARD-B", "--session-speed", "60000"]
        argv += ["--session-delay", "0", "--session-stagger", "0.1", "--duration", "3"]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wattlane.simulator",
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            _, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
    done = [csms.memory.transactions.by_id[i] for i in csms.memory.transactions.completed]
    assert {t.start.identity for t in done} == {"DAY-1", "DAY-2"}
    assert {t.start.id_token for t in done} == {"CARD-A", "CARD-B"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_cli_going_down_ends_the_session_in_progress(protocol: str) -> None:
    async with running_csms(stations={"DAY-1": DEFAULT_PASSWORD}) as csms:
        csms.memory.access.set("CARD-A", AccessDecision(AccessStatus.ACCEPTED, payer="cardholder"))
        argv = ["--url", csms.url, "--prefix", "DAY-", "--password", DEFAULT_PASSWORD, "--protocol", protocol]
        argv += ["--session-card", "CARD-A", "--session-delay", "0", "--duration", "1.5"]  # minutes long
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wattlane.simulator", *argv, stderr=asyncio.subprocess.PIPE
        )
        async with asyncio.timeout(30):
            _, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
        (transaction,) = csms.memory.transactions.by_id.values()
        assert transaction.end is not None and transaction.end.reason == "Reboot"


def test_certificates_carry_the_identity(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path, "Test CA")
    issued = ca.issue(tmp_path, "CS042")
    cert = x509.load_pem_x509_certificate(issued.cert_file.read_bytes())
    assert cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value == "CS042"
    assert cert.issuer == ca.cert.subject
    cert.verify_directly_issued_by(ca.cert)


async def test_cli_speaks_tls_with_a_client_certificate(tmp_path: Path) -> None:
    pki = DevPki.create(tmp_path)
    context = server_ssl_context(
        SecurityProfile.TLS_CLIENT_CERT, pki.server.cert_file, pki.server.key_file, pki.ca.cert_file
    )
    async with running_csms(
        profile=SecurityProfile.TLS_CLIENT_CERT, ssl_context=context, stations={"CS001": ""}
    ) as csms:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wattlane.simulator",
            "--url",
            csms.url,
            "--prefix",
            "CS00",
            "--ca",
            str(pki.ca.cert_file),
            "--cert",
            str(pki.station.cert_file),
            "--key",
            str(pki.station.key_file),
            "--duration",
            "0.2",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(20):
            stdout, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
        assert "1/1 connected, 1 accepted" in stdout.decode()
