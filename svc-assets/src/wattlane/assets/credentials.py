"""Station credentials: a random AuthorizationKey per charging point (security profiles 1/2),
kept only as HMAC-SHA256 with a random salt per key. Verification is one HMAC (microseconds),
not a password hash: the key is 24 random bytes, so there is nothing to brute-force."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from wattlane.assets.models import ChargingPoint
from wattlane.core.db import Database
from wattlane.core.errors import NotFound

KEY_BYTES = 24  # 32 URL-safe characters: inside OCPP's 16-40 byte AuthorizationKey range
SALT_BYTES = 16

_CREDENTIAL = select(
    ChargingPoint.id,
    ChargingPoint.location_id,
    ChargingPoint.owner_id,
    ChargingPoint.owner_path,
    ChargingPoint.key_salt,
    ChargingPoint.key_digest,
    ChargingPoint.certificate_subject,
    ChargingPoint.credential_version,
    ChargingPoint.ocpp_version,
)


@dataclass(frozen=True, slots=True)
class StationCredential:
    """A charging point's credentials as a verifier (never the key), for the CSMS to check
    Basic auth and client certificates itself."""

    identity: str  # the OCPP identity
    charging_point: str  # `chargingPoints/{id}`
    location: str  # `locations/{id}`
    owner: str  # `tenants/{id}`: the owning organization
    owner_path: str
    key_salt: bytes  # empty when no key is set
    key_digest: bytes  # HMAC-SHA256(key_salt, key); empty when no key is set
    certificate_subject: str  # expected client-certificate CN (security profile 3); may be empty
    credential_version: int  # changes whenever the key or the certificate subject changes
    ocpp_version: str


def digest(salt: bytes, key: str) -> bytes:
    """HMAC-SHA256(salt, key as UTF-8): what is stored and what the CSMS compares."""
    return hmac.new(salt, key.encode(), hashlib.sha256).digest()


def rotate(row: ChargingPoint) -> str:
    """Give the point a new key; returns it (the only time it exists in clear)."""
    key = secrets.token_urlsafe(KEY_BYTES)
    row.key_salt = secrets.token_bytes(SALT_BYTES)
    row.key_digest = digest(row.key_salt, key)
    row.credential_version += 1
    return key


def verify(row: ChargingPoint, key: str) -> bool:
    """Constant-time check of a presented key."""
    if row.key_salt is None or row.key_digest is None:
        return False
    return hmac.compare_digest(digest(row.key_salt, key), row.key_digest)


async def station_credential(db: Database, identity: str) -> StationCredential:
    """The credentials of the live charging point with OCPP `identity` (NotFound: none)."""
    async with db.reader(snapshot=False) as session:
        row = (
            await session.execute(
                _CREDENTIAL.where(
                    ChargingPoint.ocpp_identity == identity,
                    ChargingPoint.delete_time.is_(None),
                    ChargingPoint.state == "ACTIVE",
                )
            )
        ).one_or_none()
    if row is None:
        raise NotFound(f"charging point with OCPP identity {identity[:64]!r}")
    return StationCredential(
        identity=identity,
        charging_point=f"chargingPoints/{row.id}",
        location=f"locations/{row.location_id}",
        owner=f"tenants/{row.owner_id}",
        owner_path=row.owner_path,
        key_salt=row.key_salt or b"",
        key_digest=row.key_digest or b"",
        certificate_subject=row.certificate_subject,
        credential_version=row.credential_version,
        ocpp_version=row.ocpp_version,
    )
