"""The opening handshake: 404 / 401, sub-protocol negotiation, replacement, onboarding (profile 1).

Named after the OCPP 2.0.1 CSMS test cases where one fits (TC_A_01..03_CSMS: Basic
authentication; TC_B_02_CSMS) and the OCPP 1.6 ones (TC_085_CSMS Basic authentication, TC_088_CSMS
sub-protocol negotiation); each runs with both sub-protocols.
"""

from __future__ import annotations

import base64

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from wattlane.core.ocpp import validate_identity
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, eventually, running_csms
from wattlane.simulator.station import SimCallError, SimStation, basic_auth_header

PROTOCOLS = ["ocpp1.6", "ocpp2.0.1"]


async def _status_of(url: str, headers: dict[str, str] | None = None, protocol: str = "ocpp1.6") -> int:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url, subprotocols=[Subprotocol(protocol)], additional_headers=headers or {}):
            pass
    return caught.value.response.status_code


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_TC_A_01_CSMS_and_TC_085_CSMS_basic_auth_valid_credentials(
    csms: RunningCsms, protocol: str
) -> None:
    station = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
    await station.connect()
    assert station.subprotocol == protocol
    assert (await station.boot())["status"] == "Accepted"
    connector = 0 if protocol == "ocpp1.6" else 1
    assert await station.status(connector, "Available") == {}
    await eventually(lambda: csms.memory.events.online.get("CS001") is True, what="CS001 online")
    await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_TC_A_02_CSMS_username_is_not_the_station_identity(csms: RunningCsms, protocol: str) -> None:
    headers = {"Authorization": basic_auth_header("wrong  ", DEFAULT_PASSWORD)}
    assert await _status_of(f"{csms.url}/CS001", headers, protocol) == 401


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_TC_A_03_CSMS_invalid_password(csms: RunningCsms, protocol: str) -> None:
    headers = {"Authorization": basic_auth_header("CS001", "not-the-key-0123456")}
    assert await _status_of(f"{csms.url}/CS001", headers, protocol) == 401


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer abc",
        "Basic !!!not-base64",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
    ],
)
async def test_missing_or_malformed_basic_auth_is_401(csms: RunningCsms, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    with pytest.raises(InvalidStatus) as caught:
        async with connect(
            f"{csms.url}/CS001", subprotocols=[Subprotocol("ocpp1.6")], additional_headers=headers
        ):
            pass
    assert caught.value.response.status_code == 401
    assert caught.value.response.headers["WWW-Authenticate"].startswith("Basic")


async def test_unknown_station_is_404_and_recorded_as_unclaimed(csms: RunningCsms) -> None:
    headers = {"Authorization": basic_auth_header("CS404", DEFAULT_PASSWORD)}
    assert await _status_of(f"{csms.url}/CS404", headers) == 404
    attempts = [a for a in csms.memory.stations.unclaimed if a.identity == "CS404"]
    assert len(attempts) == 1
    assert attempts[0].remote_address.startswith("127.0.0.1:")
    assert attempts[0].listener == "default"


@pytest.mark.parametrize(
    "path", ["/ocpp/", "/other/CS001", "/ocpp/bad%20identity", "/ocpp/" + "A" * 49, "/ocpp/a:b"]
)
async def test_invalid_path_or_identity_is_404(csms: RunningCsms, path: str) -> None:
    headers = {"Authorization": basic_auth_header("CS001", DEFAULT_PASSWORD)}
    assert await _status_of(f"ws://127.0.0.1:{csms.port}{path}", headers) == 404
    assert not any(a.identity == "bad identity" for a in csms.memory.stations.unclaimed)


def test_validate_identity() -> None:
    assert validate_identity("CS001")
    assert validate_identity("A" * 48)
    assert validate_identity("op-7_station.1*=+|@")
    assert not validate_identity("")
    assert not validate_identity("A" * 49)
    assert not validate_identity("with space")
    assert not validate_identity("colon:inside")
    assert not validate_identity("slash/inside")
    assert not validate_identity("ümlaut")
    assert not validate_identity("..")


@pytest.mark.parametrize("offered", [[], ["ocpp1.5"], ["ocpp2.1", "wamp"]])
async def test_TC_088_CSMS_no_common_subprotocol_completes_handshake_then_closes(
    csms: RunningCsms, offered: list[str]
) -> None:
    headers = {"Authorization": basic_auth_header("CS001", DEFAULT_PASSWORD)}
    async with connect(
        f"{csms.url}/CS001",
        subprotocols=[Subprotocol(p) for p in offered] or None,
        additional_headers=headers,
    ) as ws:
        assert ws.response is not None
        assert ws.response.status_code == 101
        assert "Sec-WebSocket-Protocol" not in ws.response.headers
        await ws.wait_closed()
        assert ws.close_code == 1002
    assert "CS001" not in csms.csms.registry


async def test_station_preference_decides_between_offered_versions(csms: RunningCsms) -> None:
    station = SimStation(
        "CS001", csms.url, password=DEFAULT_PASSWORD, subprotocols=["ocpp2.1", "ocpp2.0.1", "ocpp1.6"]
    )
    await station.connect()
    assert station.subprotocol == "ocpp2.0.1"
    assert (await station.boot())["status"] == "Accepted"
    await station.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_second_connection_replaces_the_first(csms: RunningCsms, protocol: str) -> None:
    first = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
    await first.connect()
    await first.boot()
    second = SimStation("CS001", csms.url, protocol=protocol, password=DEFAULT_PASSWORD)
    await second.connect()
    code, reason = await first.wait_closed()
    assert code == 1000
    assert reason is not None
    assert "replaced" in reason
    assert "currentTime" in await second.heartbeat()
    assert len(csms.csms.registry) == 1
    connection = csms.csms.registry.get("CS001")
    assert connection is not None
    assert connection.is_open
    # The replaced socket's end must not mark the station offline.
    assert csms.memory.events.online["CS001"] is True
    await second.close()
    await eventually(lambda: csms.memory.events.online["CS001"] is False, what="CS001 offline")
    assert "CS001" not in csms.csms.registry


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_TC_B_02_CSMS_cold_boot_pending_on_the_onboarding_listener(protocol: str) -> None:
    async with running_csms(onboarding=True) as csms:
        station = SimStation("NEW-7", csms.url, protocol=protocol)  # no credentials yet
        await station.connect()
        answer = await station.boot()
        assert answer["status"] == "Pending"
        assert answer["interval"] == csms.csms.options.pending_interval
        with pytest.raises(SimCallError) as caught:
            await station.heartbeat()
        assert caught.value.code == "SecurityError"
        assert [a.identity for a in csms.memory.stations.unclaimed] == ["NEW-7"]
        assert csms.memory.events.boots["NEW-7"].accepted is False
        # Known stations still need their credentials on the onboarding listener.
        assert await _status_of(f"{csms.url}/CS001", {}, protocol) == 401
        await station.close()


async def test_shutdown_closes_station_sockets_with_going_away() -> None:
    async with running_csms() as csms:
        station = SimStation("CS001", csms.url, password=DEFAULT_PASSWORD)
        await station.connect()
        await station.boot()
        await csms.csms.close()
        code, _ = await station.wait_closed()
        assert code == 1001
        await eventually(lambda: csms.memory.events.online["CS001"] is False, what="offline after shutdown")


async def test_reuse_port_lets_two_processes_share_a_listener() -> None:
    from wattlane.csms.protocol.server import Csms, ListenerConfig
    from wattlane.csms.providers.memory import memory_providers

    first = Csms(memory_providers().providers())
    second = Csms(memory_providers().providers())
    try:
        server = await first.listen(ListenerConfig(port=0, reuse_port=True))
        port = server.sockets[0].getsockname()[1]
        # Without SO_REUSEPORT on both, this bind fails with EADDRINUSE.
        await second.listen(ListenerConfig(port=port, reuse_port=True))
    finally:
        await first.close()
        await second.close()
