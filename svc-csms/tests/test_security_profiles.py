"""Security profiles 2 (TLS + Basic) and 3 (TLS client certificates) with real certificates.

Named after block A of the OCPP 2.0.1 CSMS test cases (TC_A_04/06/07/08_CSMS) and their OCPP 1.6
counterparts (TC_086/087_CSMS); the certificates come from the session `pki` fixture.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import ssl
import warnings
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage, InvalidStatus
from websockets.typing import Subprotocol

from wattlane.csms.protocol.security import SecurityProfile, server_ssl_context
from wattlane.csms.testing import DEFAULT_PASSWORD, RunningCsms, running_csms
from wattlane.simulator.certs import DevPki, client_ssl_context
from wattlane.simulator.station import SimStation, basic_auth_header

PROTOCOLS = ["ocpp1.6", "ocpp2.0.1"]


@pytest.fixture
async def profile2(pki: DevPki) -> AsyncIterator[RunningCsms]:
    context = server_ssl_context(SecurityProfile.TLS_BASIC, pki.server.cert_file, pki.server.key_file)
    async with running_csms(profile=SecurityProfile.TLS_BASIC, ssl_context=context) as running:
        yield running


@pytest.fixture
async def profile3(pki: DevPki) -> AsyncIterator[RunningCsms]:
    context = server_ssl_context(
        SecurityProfile.TLS_CLIENT_CERT, pki.server.cert_file, pki.server.key_file, pki.ca.cert_file
    )
    async with running_csms(
        profile=SecurityProfile.TLS_CLIENT_CERT, ssl_context=context, stations={"CS001": "", "CS002": ""}
    ) as running:
        yield running


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_TC_A_04_CSMS_and_TC_086_CSMS_tls_server_certificate_valid(
    profile2: RunningCsms, pki: DevPki, protocol: str
) -> None:
    station = SimStation(
        "CS001",
        profile2.url,
        protocol=protocol,
        password=DEFAULT_PASSWORD,
        ssl_context=client_ssl_context(pki.ca.cert_file),
    )
    await station.connect()
    assert station.ws is not None
    assert station.ws.transport.get_extra_info("ssl_object").version() in {"TLSv1.2", "TLSv1.3"}
    assert (await station.boot())["status"] == "Accepted"
    await station.close()


async def test_profile_2_still_needs_the_password(profile2: RunningCsms, pki: DevPki) -> None:
    headers = {"Authorization": basic_auth_header("CS001", "wrong-password-000000")}
    with pytest.raises(InvalidStatus) as caught:
        async with connect(
            f"{profile2.url}/CS001",
            subprotocols=[Subprotocol("ocpp1.6")],
            additional_headers=headers,
            ssl=client_ssl_context(pki.ca.cert_file),
        ):
            pass
    assert caught.value.response.status_code == 401


async def test_profile_2_rejects_plain_websocket(profile2: RunningCsms) -> None:
    headers = {"Authorization": basic_auth_header("CS001", DEFAULT_PASSWORD)}
    with pytest.raises((OSError, InvalidMessage)):
        async with connect(
            f"ws://127.0.0.1:{profile2.port}/ocpp/CS001",
            subprotocols=[Subprotocol("ocpp1.6")],
            additional_headers=headers,
            open_timeout=3,
        ):
            pass


async def test_profile_2_server_certificate_is_checked_by_the_station(
    profile2: RunningCsms, pki: DevPki
) -> None:
    # A station that trusts another CA refuses the CSMS (the server side of TLS is real too).
    with pytest.raises(ssl.SSLCertVerificationError):
        await SimStation(
            "CS001",
            profile2.url,
            password=DEFAULT_PASSWORD,
            ssl_context=client_ssl_context(pki.rogue_ca.cert_file),
        ).connect()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_TC_A_07_CSMS_and_TC_087_CSMS_client_certificate_valid(
    profile3: RunningCsms, pki: DevPki, protocol: str
) -> None:
    station = SimStation(
        "CS001",
        profile3.url,
        protocol=protocol,
        ssl_context=client_ssl_context(pki.ca.cert_file, pki.station),
    )
    await station.connect()
    assert (await station.boot())["status"] == "Accepted"
    assert "currentTime" in await station.heartbeat()
    await station.close()


async def test_profile_3_certificate_of_another_station_is_rejected(
    profile3: RunningCsms, pki: DevPki
) -> None:
    # CS002's valid certificate must not open CS001's connection.
    station = SimStation(
        "CS001", profile3.url, ssl_context=client_ssl_context(pki.ca.cert_file, pki.other_station)
    )
    with pytest.raises(InvalidStatus) as caught:
        await station.connect()
    assert caught.value.response.status_code == 401


async def test_TC_A_08_CSMS_client_certificate_invalid_untrusted_chain(
    profile3: RunningCsms, pki: DevPki
) -> None:
    station = SimStation(
        "CS001", profile3.url, ssl_context=client_ssl_context(pki.ca.cert_file, pki.rogue_station)
    )
    # TLS refuses it (with TLS 1.3 the client learns only when the server drops the socket).
    with pytest.raises((ssl.SSLError, ConnectionError, InvalidMessage)):
        await station.connect()
    assert "CS001" not in profile3.csms.registry


async def test_profile_3_without_client_certificate_is_rejected(profile3: RunningCsms, pki: DevPki) -> None:
    station = SimStation("CS001", profile3.url, ssl_context=client_ssl_context(pki.ca.cert_file))
    # TLS refuses it (with TLS 1.3 the client learns only when the server drops the socket).
    with pytest.raises((ssl.SSLError, ConnectionError, InvalidMessage)):
        await station.connect()
    assert "CS001" not in profile3.csms.registry


async def test_profile_3_unknown_identity_is_still_404(profile3: RunningCsms, pki: DevPki) -> None:
    unknown = pki.ca.issue(pki.ca.cert_file.parent, "CS777")
    station = SimStation("CS777", profile3.url, ssl_context=client_ssl_context(pki.ca.cert_file, unknown))
    with pytest.raises(InvalidStatus) as caught:
        await station.connect()
    assert caught.value.response.status_code == 404


def _tls_1_1_only_client() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1_1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


async def test_TC_A_06_CSMS_tls_version_too_low(profile2: RunningCsms, pki: DevPki) -> None:
    # Control: a server that does allow TLS 1.1 accepts this client, so a refusal below really
    # comes from the CSMS's TLS 1.2 minimum and not from the client's OpenSSL.
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        permissive.minimum_version = ssl.TLSVersion.TLSv1_1
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    permissive.load_cert_chain(str(pki.server.cert_file), str(pki.server.key_file))

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    control = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=permissive)
    try:
        port = control.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=_tls_1_1_only_client())
    except ssl.SSLError as exc:
        pytest.skip(f"this OpenSSL cannot speak TLS 1.1 at all: {exc}")
    else:
        assert writer.get_extra_info("ssl_object").version() == "TLSv1.1"
        writer.close()
    finally:
        control.close()
        await control.wait_closed()
    # The CSMS's TLS layer refuses the handshake (an alert, or the socket is dropped).
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await asyncio.open_connection("127.0.0.1", profile2.port, ssl=_tls_1_1_only_client())


async def test_tls_listener_shrinks_the_per_connection_read_buffer(profile2: RunningCsms) -> None:
    # CPython 3.11 allocates SSLProtocol.max_size (256 KiB) per TLS connection.
    assert asyncio.sslproto.SSLProtocol.max_size == 16 * 1024  # type: ignore[attr-defined]


def test_tls_contexts_require_tls_1_2(pki: DevPki) -> None:
    for profile in (SecurityProfile.TLS_BASIC, SecurityProfile.TLS_CLIENT_CERT):
        context = server_ssl_context(profile, pki.server.cert_file, pki.server.key_file, pki.ca.cert_file)
        assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    with pytest.raises(ValueError, match="profile 3"):
        server_ssl_context(SecurityProfile.TLS_CLIENT_CERT, pki.server.cert_file, pki.server.key_file)
    with pytest.raises(ValueError, match="profile 1"):
        server_ssl_context(SecurityProfile.BASIC, pki.server.cert_file, pki.server.key_file)
