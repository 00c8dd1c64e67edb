"""AuthService and ServiceAccountService."""

from __future__ import annotations

import datetime as dt
import time

import grpc
from google.protobuf import empty_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select

from wattlane.api.identity.v1 import auth_pb2, auth_pb2_grpc
from wattlane.core.caller import current_caller
from wattlane.core.errors import PermissionDenied, Unauthenticated
from wattlane.core.names import parse_name
from wattlane.core.paging import parse_page
from wattlane.core.scope import EffectiveScope
from wattlane.core.timestamps import to_timestamp
from wattlane.identity import auth, messages
from wattlane.identity.models import ServiceAccount
from wattlane.identity.runtime import Runtime


def _ts(epoch_seconds: float) -> Timestamp | None:
    return to_timestamp(dt.datetime.fromtimestamp(epoch_seconds, dt.UTC))


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def Login(
        self, request: auth_pb2.LoginRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.LoginResponse:
        """Exchanges e-mail and password for an access token. Public."""
        user, issued = await auth.login(self.rt, request.email, request.password)
        return auth_pb2.LoginResponse(
            access_token=issued.token, expire_time=_ts(issued.expires_at), user=messages.user(user)
        )

    async def Logout(
        self, request: auth_pb2.LogoutRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Revokes the caller's current token."""
        await auth.logout(self.rt, current_caller().principal)
        return empty_pb2.Empty()

    async def GetJwks(
        self, request: auth_pb2.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Jwks:
        """The public keys tokens are signed with. Public."""
        return auth_pb2.Jwks(keys=[auth_pb2.Jwk(**k) for k in self.rt.keys.jwks()])

    async def GetEffectiveScope(
        self, request: auth_pb2.GetEffectiveScopeRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.EffectiveScope:
        """The caller's effective scope (UNAUTHENTICATED for a revoked token)."""
        caller = current_caller()
        if caller.principal.is_service:
            raise Unauthenticated("service tokens have no tenant scope")
        scope = await caller.scope()
        return scope_message(scope, caller.principal.tenant_id, self.rt.settings.scope_cache_seconds)

    async def IssueServiceToken(
        self, request: auth_pb2.IssueServiceTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ServiceToken:
        """Exchanges service-account credentials for a service token. Public."""
        issued = await auth.issue_service_token(self.rt, request.client_id, request.client_secret)
        return auth_pb2.ServiceToken(access_token=issued.token, expire_time=_ts(issued.expires_at))


def scope_message(scope: EffectiveScope, tenant_id: str, ttl: float) -> auth_pb2.EffectiveScope:
    """An EffectiveScope message (the cache hint never outlives the scope's own expiry)."""
    return auth_pb2.EffectiveScope(
        user=f"users/{scope.subject}",
        tenant=f"tenants/{tenant_id}",
        permissions=[
            auth_pb2.PermissionScope(
                permission=permission,
                grants=[
                    auth_pb2.ScopeGrant(
                        path=g.path, subtree=g.subtree, allowed_resources=sorted(g.allowed or ())
                    )
                    for g in scope.grants_for(permission)
                ],
            )
            for permission in scope.permissions()
        ],
        expire_time=_ts(min(time.time() + ttl, scope.expires_at or time.time() + ttl)),
    )


class ServiceAccountServicer(auth_pb2_grpc.ServiceAccountServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def _require_manage(self) -> str:
        caller = current_caller()
        scope = await caller.scope()
        # Platform-wide resources: only a grant over the whole tree (at the operator) counts.
        if not scope.can_everywhere_below("service_accounts.manage", self.rt.root_path):
            raise PermissionDenied("service_accounts.manage", "the operator")
        return caller.principal.caller_key

    async def CreateServiceAccount(
        self, request: auth_pb2.CreateServiceAccountRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateServiceAccountResponse:
        """Creates a service account; its secret is returned only here."""
        await self._require_manage()
        account, secret = await auth.create_service_account(
            self.rt, request.service_account.service, list(request.service_account.scopes)
        )
        return auth_pb2.CreateServiceAccountResponse(
            service_account=messages.service_account(account), client_secret=secret
        )

    async def ListServiceAccounts(
        self, request: auth_pb2.ListServiceAccountsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListServiceAccountsResponse:
        """Lists live service accounts."""
        caller_key = await self._require_manage()
        page = parse_page(
            request.page_size, request.page_token, caller=caller_key, method="ListServiceAccounts"
        )
        query = select(ServiceAccount).where(ServiceAccount.delete_time.is_(None))
        async with self.rt.db.reader() as session:
            rows = list((await session.execute(page.window(query, [ServiceAccount.id]))).scalars())
        return auth_pb2.ListServiceAccountsResponse(
            service_accounts=[messages.service_account(r) for r in rows[: page.size]],
            next_page_token=page.next_token(rows, lambda r: r.id),
        )

    async def DeleteServiceAccount(
        self, request: auth_pb2.DeleteServiceAccountRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Deletes a service account."""
        await self._require_manage()
        await auth.delete_service_account(self.rt, parse_name(request.name, "serviceAccounts"))
        return empty_pb2.Empty()
