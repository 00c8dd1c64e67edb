"""A throwaway PKI for tests and the demo: a CA, a server certificate, station client certificates.

Security profile 3 needs station certificates whose CN is the station identity, signed by a CA
the CSMS trusts; profile 2 needs a server certificate the stations trust.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    """A certificate and its key as PEM files."""

    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA that can issue server and client certificates."""

    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    cert_file: Path

    @classmethod
    def create(cls, directory: Path, name: str = "Wattlane Test CA") -> CertificateAuthority:
        """A new self-signed CA written to `directory/<slug>-ca.pem`."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        cert_file = directory / f"{_slug(name)}-ca.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(name, key, cert, cert_file)

    def issue(
        self, directory: Path, common_name: str, *, server: bool = False, hosts: tuple[str, ...] = ()
    ) -> Issued:
        """Issue a server (with `hosts` as SANs) or client certificate for `common_name`."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        if hosts:
            names: list[x509.GeneralName] = []
            for host in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{_slug(self.name)}-{_slug(common_name)}"
        cert_file = directory / f"{stem}.pem"
        key_file = directory / f"{stem}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_file.chmod(0o600)
        return Issued(cert_file, key_file)


@dataclass(frozen=True)
class DevPki:
    """A CA with a server certificate for 127.0.0.1/localhost, two station certificates, and a
    rogue CA whose certificate for CS001 no CSMS trusts (for the security-profile tests)."""

    ca: CertificateAuthority
    server: Issued
    station: Issued  # CN = CS001, signed by `ca`
    other_station: Issued  # CN = CS002, signed by `ca`
    rogue_ca: CertificateAuthority
    rogue_station: Issued  # CN = CS001, signed by `rogue_ca`

    @classmethod
    def create(cls, directory: Path) -> DevPki:
        """Generate everything into `directory`."""
        ca = CertificateAuthority.create(directory, "Wattlane Test CA")
        rogue = CertificateAuthority.create(directory, "Rogue CA")
        return cls(
            ca=ca,
            server=ca.issue(directory, "csms.test", server=True, hosts=("127.0.0.1", "localhost")),
            station=ca.issue(directory, "CS001"),
            other_station=ca.issue(directory, "CS002"),
            rogue_ca=rogue,
            rogue_station=rogue.issue(directory, "CS001"),
        )


def client_ssl_context(ca_file: Path, client: Issued | None = None) -> ssl.SSLContext:
    """A station-side TLS context trusting `ca_file`, presenting `client` when given (profile 3)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if client is not None:
        context.load_cert_chain(str(client.cert_file), str(client.key_file))
    return context


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).lower()
