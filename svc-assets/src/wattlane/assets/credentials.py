"""Station credentials: a random AuthorizationKey per charging point (security profiles 1/2),
kept only as HMAC-SHA256 with a random salt per key. Verification is one HMAC (microseconds),
not a password hash: the key is 24 random bytes, so there is nothing to brute-force."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from wattlane.assets.models import ChargingPoint

KEY_BYTES = 24  # 32 URL-safe characters: inside OCPP's 16-40 byte AuthorizationKey range
SALT_BYTES = 16


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
