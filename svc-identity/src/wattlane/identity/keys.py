"""Token signing keys (Ed25519) and token issuing. The JWKS published from here is what every
service verifies against."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from wattlane.core.clock import utcnow
from wattlane.core.db import Database
from wattlane.core.ids import new_id
from wattlane.core.tokens import ALGORITHM, AUDIENCE, ISSUER
from wattlane.identity.models import SigningKey


@dataclass(frozen=True)
class KeyPair:
    kid: str
    private: Ed25519PrivateKey

    def jwk(self) -> dict[str, str]:
        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return {"kid": self.kid, "kty": "OKP", "crv": "Ed25519", "x": x, "alg": ALGORITHM, "use": "sig"}


def _kid_of(private: Ed25519PrivateKey) -> str:
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Keys:
    """The signing key (newest) and every key that still verifies."""

    def __init__(self, pairs: list[KeyPair]) -> None:
        if not pairs:
            raise ValueError("no signing key")
        self.pairs = pairs

    @property
    def signer(self) -> KeyPair:
        return self.pairs[0]

    def jwks(self) -> list[dict[str, str]]:
        return [p.jwk() for p in self.pairs]

    def sign(self, claims: dict[str, Any], ttl_seconds: int) -> tuple[str, float, str]:
        """Sign `claims` plus iss/aud/iat/exp/jti; returns (token, expires_at, token id)."""
        now = int(time.time())
        token_id = new_id()
        payload = {
            **claims,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": token_id,
        }
        token = jwt.encode(
            payload, self.signer.private, algorithm=ALGORITHM, headers={"kid": self.signer.kid}
        )
        return token, float(now + ttl_seconds), token_id

    @classmethod
    async def load(cls, db: Database, key_file: str = "") -> Keys:
        """The key from `key_file` if given (production secret), else the keys kept in the
        database, creating the first one on first start."""
        if key_file:
            pem = await asyncio.to_thread(Path(key_file).read_bytes)
            private = serialization.load_pem_private_key(pem, password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise ValueError(f"{key_file} is not an Ed25519 private key")
            return cls([KeyPair(_kid_of(private), private)])
        async with db.transaction() as session:
            rows = (
                (await session.execute(select(SigningKey).order_by(SigningKey.create_time.desc())))
                .scalars()
                .all()
            )
            if not rows:
                private = Ed25519PrivateKey.generate()
                pem = private.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                row = SigningKey(kid=_kid_of(private), private_pem=pem, create_time=utcnow())
                session.add(row)
                rows = [row]
        pairs = []
        for row in rows:
            key = serialization.load_pem_private_key(row.private_pem, password=None)
            assert isinstance(key, Ed25519PrivateKey)
            pairs.append(KeyPair(row.kid, key))
        return cls(pairs)
