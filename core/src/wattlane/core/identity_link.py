"""How every other service relies on identity: its published keys (to verify tokens locally),
callers' effective scopes (fetched with the caller's own token, cached per token), and the
service's own service token (for internal RPCs), refreshed before it expires."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import grpc

from wattlane.api.identity.v1 import auth_pb2, auth_pb2_grpc
from wattlane.core.client import channel
from wattlane.core.errors import Unauthenticated, Unavailable
from wattlane.core.scope import EffectiveScope, Grant, ScopeCache
from wattlane.core.tokens import Jwk, Principal, TokenVerifier


def scope_from_message(message: auth_pb2.EffectiveScope, subject: str) -> EffectiveScope:
    """An EffectiveScope from identity's answer."""
    grants = {
        p.permission: [Grant(g.path, g.subtree, frozenset(g.allowed_resources) or None) for g in p.grants]
        for p in message.permissions
    }
    return EffectiveScope.build(
        subject, grants, expires_at=message.expire_time.seconds + message.expire_time.nanos / 1e9
    )


class IdentityLink:
    """Keys, scopes and the service token from one identity endpoint."""

    def __init__(
        self,
        target: str,
        *,
        client_id: str = "",
        client_secret: str = "",
        scope_ttl: float = 10.0,
    ) -> None:
        self._channel = channel(target, max_attempts=4, timeout=5.0)
        self._auth = auth_pb2_grpc.AuthServiceStub(self._channel)
        self._client_id = client_id
        self._client_secret = client_secret
        self._service_token = ""
        self._service_token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self.verifier = TokenVerifier(self._fetch_keys)
        self.scopes = ScopeCache(self._fetch_scope, ttl=scope_ttl)

    async def _fetch_keys(self) -> Iterable[Jwk]:
        try:
            jwks = await self._auth.GetJwks(auth_pb2.GetJwksRequest())
        except grpc.aio.AioRpcError as error:
            raise Unavailable(f"identity is unavailable to publish its keys: {error.code().name}") from None
        return [
            {"kid": k.kid, "kty": k.kty, "crv": k.crv, "x": k.x, "alg": k.alg, "use": k.use}
            for k in jwks.keys
        ]

    async def _fetch_scope(self, principal: Principal) -> EffectiveScope:
        try:
            reply = await self._auth.GetEffectiveScope(
                auth_pb2.GetEffectiveScopeRequest(),
                metadata=(("authorization", f"Bearer {principal.token}"),),
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise Unauthenticated(
                    error.details() or "token has been revoked", reason="TOKEN_REVOKED"
                ) from None
            raise Unavailable(
                f"identity is unavailable to resolve the caller's scope: {error.code().name}"
            ) from None
        return scope_from_message(reply, principal.subject)

    async def start(self) -> None:
        """Load the keys once at start-up (later refreshed on unknown key ids)."""
        await self.verifier.refresh_keys(force=True)

    async def service_token(self) -> str:
        """This service's own token for internal RPCs (renewed a minute before expiry)."""
        if self._service_token and time.time() < self._service_token_expires - 60:
            return self._service_token
        async with self._token_lock:
            if self._service_token and time.time() < self._service_token_expires - 60:
                return self._service_token
            reply = await self._auth.IssueServiceToken(
                auth_pb2.IssueServiceTokenRequest(
                    client_id=self._client_id, client_secret=self._client_secret
                )
            )
            self._service_token = reply.access_token
            self._service_token_expires = reply.expire_time.seconds + reply.expire_time.nanos / 1e9
            return self._service_token

    async def close(self) -> None:
        await self._channel.close(None)
