"""Wiring of the identity service: settings → database → keys → domain → servicers.

python -m wattlane.identity            # serve (migrates first unless told not to)
python -m wattlane.identity migrate    # only migrate
python -m wattlane.identity settings   # print the configuration in force (secrets redacted)
"""

from __future__ import annotations

from wattlane.api.common.v1 import audit_pb2_grpc
from wattlane.api.identity.v1 import (
    accounts_pb2_grpc,
    auth_pb2_grpc,
    internal_pb2_grpc,
    roles_pb2_grpc,
    tenants_pb2_grpc,
    users_pb2_grpc,
)
from wattlane.core.audit import AuditLog
from wattlane.core.audit_api import AuditServicer
from wattlane.core.caller import current_caller
from wattlane.core.errors import NotFound
from wattlane.core.idempotency import Idempotency
from wattlane.core.names import parse_name
from wattlane.core.scope import EffectiveScope, ScopeCache
from wattlane.core.service import Service, main
from wattlane.core.temporal import LazyClient
from wattlane.core.tokens import Principal, TokenVerifier
from wattlane.identity import bootstrap, housekeeping, scopes, tenants, user_mails
from wattlane.identity.api.accounts import AccountServicer, ApplicationServicer, LicenseServicer
from wattlane.identity.api.auth import AuthServicer, ServiceAccountServicer
from wattlane.identity.api.internal import IdentityInternalServicer
from wattlane.identity.api.roles import RoleServicer
from wattlane.identity.api.tenants import TenantServicer
from wattlane.identity.api.users import UserServicer
from wattlane.identity.approvals import Approvals
from wattlane.identity.keys import Keys
from wattlane.identity.models import AUDIT, IDEMPOTENCY
from wattlane.identity.passwords import Passwords
from wattlane.identity.runtime import Runtime
from wattlane.identity.schema import MIGRATIONS
from wattlane.identity.settings import IdentitySettings

PUBLIC_METHODS = frozenset(
    {
        "/wattlane.api.identity.v1.AuthService/Login",
        "/wattlane.api.identity.v1.AuthService/GetJwks",
        "/wattlane.api.identity.v1.AuthService/IssueServiceToken",
        "/wattlane.api.identity.v1.UserService/AcceptInvitation",
        "/wattlane.api.identity.v1.UserService/ResetPassword",
        "/wattlane.api.identity.v1.UserService/RequestPasswordReset",
    }
)


class TreePaths:
    """Audit reads resolve `tenants/{id}` against identity's own tree."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def path_of(self, tenant_name: str) -> str:
        tenant_id = parse_name(tenant_name, "tenants", "parent")
        scope = await current_caller().scope()
        async with self.rt.db.reader() as session:
            tenant = await tenants.load(session, tenant_id)
        if tenant is None or not scope.visible(tenant.path):
            raise NotFound(tenant_name)
        return tenant.path


class IdentityService(Service[IdentitySettings]):
    """svc-identity: the tenant tree, users, roles, tokens and effective scopes."""

    name = "identity"
    settings_class = IdentitySettings
    migrations = MIGRATIONS

    rt: Runtime

    async def setup(self) -> None:
        s = self.settings
        self.db = db = self.database(s.database_url)
        keys = await Keys.load(db, s.signing_key_file)

        async def local_keys() -> list[dict[str, str]]:
            return keys.jwks()

        verifier = TokenVerifier(local_keys)
        verifier.load_keys(keys.jwks())

        async def fetch_scope(principal: Principal) -> EffectiveScope:
            return await scopes.compute_scope(db, principal, s.scope_cache_seconds)

        self.rt = rt = Runtime(
            settings=s,
            db=db,
            audit=AuditLog(AUDIT),
            idempotency=Idempotency(db, IDEMPOTENCY),
            keys=keys,
            passwords=Passwords(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism),
            scopes=ScopeCache(fetch_scope, ttl=s.scope_cache_seconds),
            verifier=verifier,
        )
        root = await bootstrap.run(rt)
        rt.root_path = root.path
        temporal = LazyClient(s.temporal_address, s.temporal_namespace)
        rt.approvals = Approvals(db, temporal, s.approval_reminder_seconds, task_queue=s.approval_task_queue)
        self.task(rt.approvals.relay)
        # User mails run on the same task queue: one worker serves identity's workflows.
        rt.user_mails = self.task(user_mails.relay(db, temporal, s.approval_task_queue))
        self.every("housekeeping", lambda: housekeeping.purge_once(rt), s.housekeeping_interval_seconds)

        self.add_grpc(tenants_pb2_grpc.add_TenantServiceServicer_to_server, TenantServicer(rt))
        self.add_grpc(users_pb2_grpc.add_UserServiceServicer_to_server, UserServicer(rt))
        self.add_grpc(roles_pb2_grpc.add_RoleServiceServicer_to_server, RoleServicer(rt))
        self.add_grpc(auth_pb2_grpc.add_AuthServiceServicer_to_server, AuthServicer(rt))
        self.add_grpc(auth_pb2_grpc.add_ServiceAccountServiceServicer_to_server, ServiceAccountServicer(rt))
        self.add_grpc(accounts_pb2_grpc.add_AccountServiceServicer_to_server, AccountServicer(rt))
        self.add_grpc(accounts_pb2_grpc.add_ApplicationServiceServicer_to_server, ApplicationServicer(rt))
        self.add_grpc(accounts_pb2_grpc.add_LicenseServiceServicer_to_server, LicenseServicer(rt))
        self.add_grpc(
            internal_pb2_grpc.add_IdentityInternalServiceServicer_to_server, IdentityInternalServicer(rt)
        )
        self.add_grpc(
            audit_pb2_grpc.add_AuditServiceServicer_to_server, AuditServicer(db, rt.audit, TreePaths(rt))
        )
        self.serve_grpc(s.host, s.port, verifier=verifier, scopes=rt.scopes, public_methods=PUBLIC_METHODS)


def cli(argv: list[str] | None = None) -> None:
    """`wattlane-identity [serve|migrate|settings]`."""
    main(IdentityService, argv)


if __name__ == "__main__":
    cli()
