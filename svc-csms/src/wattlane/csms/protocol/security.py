"""Security profiles (OCPP 1.6 security whitepaper / 2.0.1 Part 2 A00): TLS contexts and credentials.

1 = plain WebSocket + HTTP Basic; 2 = TLS 1.2+ + HTTP Basic; 3 = TLS 1.2+ with a client certificate
whose CN is the station identity, its chain checked against the configured CA by the TLS layer.
"""

from __future__ import annotations

import base64
import binascii
import enum
import ssl
from pathlib import Path
from typing import Any


class SecurityProfile(enum.IntEnum):
    """An OCPP security profile."""

    BASIC = 1
    TLS_BASIC = 2
    TLS_CLIENT_CERT = 3

    @property
    def uses_tls(self) -> bool:
        """True for profiles 2 and 3."""
        return self is not SecurityProfile.BASIC

    @property
    def uses_basic_auth(self) -> bool:
        """True for profiles 1 and 2."""
        return self is not SecurityProfile.TLS_CLIENT_CERT


def server_ssl_context(
    profile: SecurityProfile,
    cert_file: str | Path,
    key_file: str | Path,
    client_ca_file: str | Path | None = None,
) -> ssl.SSLContext:
    """A server TLS context for profile 2 or 3 (TLS 1.2 minimum; profile 3 requires client certs)."""
    if not profile.uses_tls:
        raise ValueError("security profile 1 does not use TLS")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file))
    if profile is SecurityProfile.TLS_CLIENT_CERT:
        if client_ca_file is None:
            raise ValueError("security profile 3 needs the CA that signs station certificates")
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(str(client_ca_file))
    return context


def parse_basic_auth(header: str | None) -> tuple[str, bytes] | None:
    """Split an `Authorization: Basic ...` header into (username, password bytes), or None.

    The password stays bytes: an OCPP AuthorizationKey is compared byte for byte.
    """
    if header is None:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    username, colon, password = decoded.partition(b":")
    if not colon:
        return None
    try:
        return username.decode("utf-8"), password
    except UnicodeDecodeError:
        return None


def peer_common_name(peercert: Any) -> str | None:
    """The subject CN of a peer certificate as returned by `SSLObject.getpeercert()`."""
    if not isinstance(peercert, dict):
        return None
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
