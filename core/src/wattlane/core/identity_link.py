"""How every other service relies on identity: its published keys (to verify tokens locally),
callers' effective scopes (fetched with the caller's own token, cached per token), the
service's own service token (for internal RPCs), refreshed before it expires, and revoked user
tokens.

Revocation: tokens are verified here without asking identity, and scopes are cached for
`scope_ttl` seconds, so a logged-out token would keep working that long. The service polls
identity's revocation feed (`ListRevocations`, every `REVOCATION_POLL_SECONDS`) instead, and
the verifier refuses a token it names: a logout or an ended session reaches the service within
about one poll interval (plus the poll's round trip)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterable

import grpc

from wattlane.api.identity.v1 import auth_pb2, auth_pb2_grpc, internal_pb2, internal_pb2_grpc
from wattlane.core.client import channel
from wattlane.core.errors import Unauthenticated, Unavailable
from wattlane.core.scope import EffectiveScope, Grant, ScopeCache
from wattlane.core.tokens import Jwk, Principal, TokenVerifier

log = logging.getLogger("wattlane.identity_link")

REVOCATION_POLL_SECONDS = 1.0
# Each poll asks again from this long before the previous answer's read time: a revocation
# committed late (its transaction began earlier) is still seen. Applying one twice is harmless.
_REVOCATION_SLACK = dt.timedelta(seconds=5)


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
        self._internal = internal_pb2_grpc.IdentityInternalServiceStub(self._channel)
        # Revoked tokens by id, and the lowest valid auth epoch per user, each until when it
        # matters (the revoked tokens have expired by then).
        self._revoked_tokens: dict[str, float] = {}
        self._min_epochs: dict[str, tuple[int, float]] = {}
        self._revocations_since: dt.datetime | None = None
        self.verifier = TokenVerifier(self._fetch_keys, is_revoked=self.is_revoked)
        self.scopes = ScopeCache(self._fetch_scope, ttl=scope_ttl)

    @property
    def follows_revocations(self) -> bool:
        """Whether this link can poll the revocation feed (it needs service credentials)."""
        return bool(self._client_id)

    def is_revoked(self, principal: Principal) -> bool:
        """Whether a verified user token was revoked (as far as the last poll knows)."""
        if principal.kind != "user":
            return False
        if principal.token_id in self._revoked_tokens:
            return True
        floor = self._min_epochs.get(principal.subject)
        return floor is not None and principal.epoch < floor[0]

    async def poll_revocations(self) -> int:
        """Fetch revocations recorded since the last poll and refuse their tokens from now on;
        returns how many were new. Without service credentials there is nothing to poll."""
        if not self.follows_revocations:
            return 0
        request = internal_pb2.ListRevocationsRequest()
        if self._revocations_since is not None:
            request.since.FromDatetime(self._revocations_since - _REVOCATION_SLACK)
        try:
            reply = await self._internal.ListRevocations(
                request, metadata=(("authorization", f"Bearer {await self.service_token()}"),)
            )
        except grpc.aio.AioRpcError as error:
            raise Unavailable(f"identity did not list revocations: {error.code().name}") from None
        new = self._apply(reply.revocations)
        self._revocations_since = reply.read_time.ToDatetime(tzinfo=dt.UTC)
        if reply.truncated:
            return new + await self.poll_revocations()
        return new

    def _apply(self, revocations: Iterable[internal_pb2.Revocation]) -> int:
        now = time.time()
        self._revoked_tokens = {t: until for t, until in self._revoked_tokens.items() if until > now}
        self._min_epochs = {u: e for u, e in self._min_epochs.items() if e[1] > now}
        new = 0
        subjects: set[str] = set()
        for r in revocations:
            until = r.expire_time.seconds + r.expire_time.nanos / 1e9
            if until <= now:
                continue
            subject = r.user.removeprefix("users/")
            if r.token_id:
                if r.token_id not in self._revoked_tokens:
                    self._revoked_tokens[r.token_id] = until
                    new += 1
                    subjects.add(subject)
            elif r.epoch > self._min_epochs.get(subject, (0, 0.0))[0]:
                self._min_epochs[subject] = (int(r.epoch), until)
                new += 1
                subjects.add(subject)
        if subjects:
            self.verifier.forget(self.is_revoked)
            self.scopes.invalidate(lambda subject: subject in subjects)
        return new

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
