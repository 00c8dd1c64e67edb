"""A stand-in for identity in a service's own tests, built on identity's generated servicers.

Every service relies on identity for three things: its published keys (tokens are verified
locally), a caller's effective scope (per permission, the subtree paths), and service tokens.
`FakeIdentity` serves exactly those over real gRPC — plus `ResolveOwner` for the tenants it
knows — from a tenant tree and grants the test declares, with tokens signed by a real Ed25519
key (`TokenMinter`). Tests that need identity's own rules (roles, accounts, licenses) are
cross-service tests and run against the real one in the top-level tests/.

    fake = FakeIdentity()
    await fake.start()
    org = fake.tenant(fake.tenant(fake.root, "PARTNER"), "ORGANIZATION")
    admin = fake.user(org, {"billing.read": [org], "billing.manage": [org]})
    fake.service_account("billing", scopes=[...])  # what the service itself may do
    ... service settings: identity_address=fake.target, client_id="billing" ...
    ... client with token=admin.token ...
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
import jwt

from wattlane.api.identity.v1 import auth_pb2, auth_pb2_grpc, internal_pb2, internal_pb2_grpc
from wattlane.core.clock import utcnow
from wattlane.core.ids import new_id
from wattlane.core.testing.tokens import TokenMinter
from wattlane.core.timestamps import to_timestamp


@dataclass(frozen=True)
class FakeTenant:
    id: str
    path: str
    kind: str
    display_name: str
    home_of: str = ""  # `users/{id}` owning an employee's home sub-organization

    @property
    def name(self) -> str:
        return f"tenants/{self.id}"


@dataclass(frozen=True)
class FakeUser:
    id: str
    tenant: FakeTenant
    token: str

    @property
    def name(self) -> str:
        return f"users/{self.id}"


@dataclass(frozen=True)
class FakeGrant:
    """A permission held at a tenant (and below it unless `subtree` is false)."""

    tenant: FakeTenant
    subtree: bool = True
    allowed_resources: tuple[str, ...] = ()


GrantSpec = Mapping[str, Iterable[FakeTenant | FakeGrant]]


@dataclass
class FakeIdentity(auth_pb2_grpc.AuthServiceServicer, internal_pb2_grpc.IdentityInternalServiceServicer):
    """Keys, scopes, service tokens and owners over real gRPC, from what the test declares."""

    minter: TokenMinter = field(default_factory=TokenMinter)
    scope_ttl: float = 60.0
    tenants: dict[str, FakeTenant] = field(default_factory=dict)
    users: dict[str, FakeUser] = field(default_factory=dict)
    service_accounts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # client id -> scopes
    revocations: list[internal_pb2.Revocation] = field(default_factory=list)  # ListRevocations
    _grants: dict[str, dict[str, list[FakeGrant]]] = field(default_factory=dict)
    _server: grpc.aio.Server | None = None
    port: int = 0

    def __post_init__(self) -> None:
        root_id = new_id()
        self.root = FakeTenant(root_id, f"/{root_id}/", "OPERATOR", "Operator")
        self.tenants[root_id] = self.root

    # --- declaring the world -----------------------------------------------------------------

    def tenant(
        self, parent: FakeTenant, kind: str = "ORGANIZATION", display_name: str = "", *, home_of: str = ""
    ) -> FakeTenant:
        """A new tenant below `parent` (`home_of`: the employee owning a home sub-organization)."""
        tenant_id = new_id()
        display = display_name or f"{kind.lower()}-{tenant_id[-6:]}"
        tenant = FakeTenant(tenant_id, f"{parent.path}{tenant_id}/", kind, display, home_of)
        self.tenants[tenant_id] = tenant
        return tenant

    def user(self, home: FakeTenant, grants: GrantSpec | None = None, *, ttl: float = 600.0) -> FakeUser:
        """A signed-in user of `home` holding each permission at the tenants listed for it."""
        user_id = new_id()
        token = self.minter.user_token(user_id, tenant_id=home.id, tenant_path=home.path, ttl=ttl)
        user = FakeUser(user_id, home, token)
        self.users[user_id] = user
        self._grants[user_id] = {
            permission: [g if isinstance(g, FakeGrant) else FakeGrant(g) for g in where]
            for permission, where in (grants or {}).items()
        }
        return user

    def revoke(self, user: FakeUser, *, token: str = "", epoch: int = 0) -> None:
        """Record a revocation in the feed: one token of `user` (a logout), or with `epoch`
        every token of the user below it (an ended session)."""
        token_id = str(jwt.decode(token, options={"verify_signature": False})["jti"]) if token else ""
        now = utcnow()
        self.revocations.append(
            internal_pb2.Revocation(
                user=user.name,
                token_id=token_id,
                epoch=epoch,
                revoke_time=to_timestamp(now),
                expire_time=to_timestamp(now + dt.timedelta(hours=1)),
            )
        )

    def service_account(self, service: str, scopes: Iterable[str]) -> str:
        """Declare a service account (any secret is accepted); returns a token of it."""
        self.service_accounts[service] = tuple(scopes)
        return self.minter.service_token(service, self.service_accounts[service])

    # --- serving -------------------------------------------------------------------------------

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> str:
        """Serve on a free loopback port; returns the target."""
        server = grpc.aio.server()
        auth_pb2_grpc.add_AuthServiceServicer_to_server(self, server)
        internal_pb2_grpc.add_IdentityInternalServiceServicer_to_server(self, server)
        self.port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        self._server = server
        return self.target

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(0)
            self._server = None

    # --- AuthService ---------------------------------------------------------------------------

    async def GetJwks(self, request: auth_pb2.GetJwksRequest, context: Any) -> auth_pb2.Jwks:
        """The minter's public key."""
        return auth_pb2.Jwks(keys=[auth_pb2.Jwk(**self.minter.jwk())])

    async def GetEffectiveScope(
        self, request: auth_pb2.GetEffectiveScopeRequest, context: Any
    ) -> auth_pb2.EffectiveScope:
        """The declared grants of the user whose token came with the call."""
        claims = await self._claims(context)
        user = self.users.get(str(claims.get("sub", "")))
        if user is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "not a user this fake identity knows")
        assert user is not None
        permissions = [
            auth_pb2.PermissionScope(
                permission=permission,
                grants=[
                    auth_pb2.ScopeGrant(
                        path=g.tenant.path, subtree=g.subtree, allowed_resources=list(g.allowed_resources)
                    )
                    for g in grants
                ],
            )
            for permission, grants in sorted(self._grants[user.id].items())
        ]
        return auth_pb2.EffectiveScope(
            user=user.name,
            tenant=user.tenant.name,
            permissions=permissions,
            expire_time=_timestamp_in(self.scope_ttl),
        )

    async def IssueServiceToken(
        self, request: auth_pb2.IssueServiceTokenRequest, context: Any
    ) -> auth_pb2.ServiceToken:
        """A token of a declared service account (any secret goes)."""
        scopes = self.service_accounts.get(request.client_id)
        if scopes is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"no service account {request.client_id}")
        ttl = 600.0
        return auth_pb2.ServiceToken(
            access_token=self.minter.service_token(request.client_id, scopes or (), ttl=ttl),
            expire_time=_timestamp_in(ttl),
        )

    # --- IdentityInternalService ---------------------------------------------------------------

    async def ResolveOwner(
        self, request: internal_pb2.ResolveOwnerRequest, context: Any
    ) -> internal_pb2.Owner:
        """The tenant of `tenants/{id}` or `users/{id}`, if declared."""
        collection, _, resource_id = request.name.partition("/")
        if collection == "tenants" and resource_id in self.tenants:
            tenant = self.tenants[resource_id]
            display = tenant.display_name
        elif collection == "users" and resource_id in self.users:
            tenant = self.users[resource_id].tenant
            display = f"user-{resource_id[-6:]}"
        else:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{request.name} not found")
        return internal_pb2.Owner(
            name=request.name,
            tenant=tenant.name,
            tenant_path=tenant.path,
            kind=tenant.kind,
            display_name=display,
            home_of=tenant.home_of,
        )

    async def ListRevocations(
        self, request: internal_pb2.ListRevocationsRequest, context: Any
    ) -> internal_pb2.ListRevocationsResponse:
        """The declared revocations recorded at or after `since` (all when unset)."""
        since = request.since.ToDatetime(tzinfo=dt.UTC) if request.HasField("since") else None
        return internal_pb2.ListRevocationsResponse(
            revocations=[
                r
                for r in self.revocations
                if since is None or r.revoke_time.ToDatetime(tzinfo=dt.UTC) >= since
            ],
            read_time=to_timestamp(utcnow()),
        )

    async def _claims(self, context: Any) -> dict[str, Any]:
        metadata = dict(context.invocation_metadata() or ())
        token = str(metadata.get("authorization", "")).removeprefix("Bearer ").strip()
        try:
            return dict(
                jwt.decode(
                    token,
                    self.minter.private_key.public_key(),
                    algorithms=["EdDSA"],
                    options={"verify_aud": False},
                )
            )
        except jwt.PyJWTError as error:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"bad token: {error}")
            raise


def _timestamp_in(seconds: float) -> Any:
    return to_timestamp(utcnow() + dt.timedelta(seconds=seconds))
