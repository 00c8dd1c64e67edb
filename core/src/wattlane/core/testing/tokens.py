"""Real signed tokens for tests without a running identity: a fresh Ed25519 key that signs the
claims identity issues, its JWKS, and a TokenVerifier that trusts it."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wattlane.core.ids import new_id
from wattlane.core.tokens import ALGORITHM, AUDIENCE, ISSUER, TokenVerifier


class TokenMinter:
    """Signs Wattlane JWTs with its own key, exactly as identity does (`wattlane.identity.keys`)."""

    def __init__(self, kid: str | None = None) -> None:
        self.private_key = Ed25519PrivateKey.generate()
        self.kid = kid if kid is not None else new_id()
        self.fetches = 0  # how often a verifier built by `verifier()` asked for the keys

    def jwk(self) -> dict[str, str]:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return {"kid": self.kid, "kty": "OKP", "crv": "Ed25519", "x": x, "alg": ALGORITHM, "use": "sig"}

    def claims(self, ttl: float = 300.0, **claims: Any) -> dict[str, Any]:
        """Registered claims (iss, aud, iat, exp, jti) plus `claims`; a claim given as None is left out."""
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + ttl,
            "jti": new_id(),
        }
        base.update(claims)
        return {k: v for k, v in base.items() if v is not None}

    def sign(self, claims: Mapping[str, Any], *, headers: Mapping[str, Any] | None = None) -> str:
        return jwt.encode(
            dict(claims), self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid, **(headers or {})}
        )

    def user_token(
        self,
        subject: str = "",
        *,
        tenant_id: str = "T1",
        tenant_path: str = "/T1/",
        epoch: int = 0,
        ttl: float = 300.0,
        **claims: Any,
    ) -> str:
        """A user token as identity's Login issues it."""
        return self.sign(
            self.claims(
                ttl,
                sub=subject or new_id(),
                typ="user",
                tn=tenant_id,
                tp=tenant_path,
                ep=epoch,
                **claims,
            )
        )

    def service_token(
        self, service: str, scopes: Iterable[str] = (), *, ttl: float = 300.0, **claims: Any
    ) -> str:
        """A service token as identity's IssueServiceToken issues it."""
        return self.sign(
            self.claims(ttl, sub=new_id(), typ="service", svc=service, scp=sorted(scopes), **claims)
        )

    def verifier(self, *others: TokenMinter, **kwargs: Any) -> TokenVerifier:
        """A verifier whose key source publishes this key (and `others`); counts fetches."""

        async def source() -> list[dict[str, str]]:
            self.fetches += 1
            return [self.jwk(), *(o.jwk() for o in others)]

        return TokenVerifier(source, **kwargs)
