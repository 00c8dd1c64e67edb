"""Wiring of the identity service: settings → database → migrations → keys → server.

python -m wattlane.identity            # serve (migrates first unless told not to)
python -m wattlane.identity migrate    # only migrate
python -m wattlane.identity settings   # list the environment variables and defaults
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from wattlane.api.common.v1 import audit_pb2, audit_pb2_grpc
from wattlane.api.identity.v1 import (
    accounts_pb2,
    accounts_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    internal_pb2,
    internal_pb2_grpc,
    roles_pb2,
    roles_pb2_grpc,
    tenants_pb2,
    tenants_pb2_grpc,
    users_pb2,
    users_pb2_grpc,
)
from wattlane.core import logs, telemetry
from wattlane.core.audit import AuditLog
from wattlane.core.audit_api import AuditServicer
from wattlane.core.caller import current_caller
from wattlane.core.db import Database
from wattlane.core.errors import NotFound
from wattlane.core.idempotency import Idempotency
from wattlane.core.migrations import upgrade, upgrade_async
from wattlane.core.names import parse_name
from wattlane.core.periodic import Periodic
from wattlane.core.scope import ScopeCache
from wattlane.core.server import ServerOptions, ServiceServer, run, run_until_signal
from wattlane.core.settings import describe
from wattlane.core.temporal import LazyClient
from wattlane.core.tokens import Principal, TokenVerifier
from wattlane.identity import bootstrap, housekeeping, scopes, tenants
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
from wattlane.identity.settings import IdentitySettings, load
from wattlane.identity.user_mails import UserMailRelay

log = logging.getLogger("wattlane.identity")


def _full_name(descriptor_module: object, service: str) -> str:
    return descriptor_module.DESCRIPTOR.services_by_name[service].full_name  # type: ignore[attr-defined, no-any-return]


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


class IdentityService:
    """The identity service in this process (used by main and by tests)."""

    def __init__(self, settings: IdentitySettings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.rt: Runtime | None = None
        self.server: ServiceServer | None = None
        self._housekeeping: Periodic | None = None

    async def start(self) -> int:
        s = self.settings
        if s.database_url.startswith("sqlite"):
            Path(self.db.url.database or "").parent.mkdir(parents=True, exist_ok=True)
        if s.migrate_on_start:
            await upgrade_async(s.database_url, MIGRATIONS)
        keys = await Keys.load(self.db, s.signing_key_file)

        async def local_keys() -> list[dict[str, str]]:
            return keys.jwks()

        verifier = TokenVerifier(local_keys)
        verifier.load_keys(keys.jwks())
        rt_holder: list[Runtime] = []

        async def fetch_scope(principal: Principal):  # type: ignore[no-untyped-def]
            return await scopes.compute_scope(self.db, principal, s.scope_cache_seconds)

        rt = Runtime(
            settings=s,
            db=self.db,
            audit=AuditLog(AUDIT),
            idempotency=Idempotency(self.db, IDEMPOTENCY),
            keys=keys,
            passwords=Passwords(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism),
            scopes=ScopeCache(fetch_scope, ttl=s.scope_cache_seconds),
            verifier=verifier,
        )
        rt_holder.append(rt)
        root = await bootstrap.run(rt)
        rt.root_path = root.path
        temporal = LazyClient(s.temporal_address, s.temporal_namespace)
        rt.approvals = Approvals(
            self.db, temporal, s.approval_reminder_seconds, task_queue=s.approval_task_queue
        )
        rt.approvals.start()
        # User mails run on the same task queue: one worker serves identity's workflows.
        rt.user_mails = UserMailRelay(self.db, temporal, s.approval_task_queue)
        rt.user_mails.relay.start()
        self._housekeeping = Periodic(
            "identity-housekeeping",
            lambda: housekeeping.purge_once(rt),
            interval=s.housekeeping_interval_seconds,
        )
        self._housekeeping.start()
        self.rt = rt
        tracing = telemetry.configure_tracing("identity", s.otlp_endpoint)
        self.server = ServiceServer(
            ServerOptions(
                service="identity",
                host=s.host,
                port=s.port,
                metrics_port=None if s.metrics_port < 0 else s.metrics_port,
                tracing=tracing,
                public_methods=PUBLIC_METHODS,
            ),
            services=[
                (
                    _full_name(tenants_pb2, "TenantService"),
                    lambda srv: tenants_pb2_grpc.add_TenantServiceServicer_to_server(TenantServicer(rt), srv),
                ),
                (
                    _full_name(users_pb2, "UserService"),
                    lambda srv: users_pb2_grpc.add_UserServiceServicer_to_server(UserServicer(rt), srv),
                ),
                (
                    _full_name(roles_pb2, "RoleService"),
                    lambda srv: roles_pb2_grpc.add_RoleServiceServicer_to_server(RoleServicer(rt), srv),
                ),
                (
                    _full_name(auth_pb2, "AuthService"),
                    lambda srv: auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(rt), srv),
                ),
                (
                    _full_name(auth_pb2, "ServiceAccountService"),
                    lambda srv: auth_pb2_grpc.add_ServiceAccountServiceServicer_to_server(
                        ServiceAccountServicer(rt), srv
                    ),
                ),
                (
                    _full_name(accounts_pb2, "AccountService"),
                    lambda srv: accounts_pb2_grpc.add_AccountServiceServicer_to_server(
                        AccountServicer(rt), srv
                    ),
                ),
                (
                    _full_name(accounts_pb2, "ApplicationService"),
                    lambda srv: accounts_pb2_grpc.add_ApplicationServiceServicer_to_server(
                        ApplicationServicer(rt), srv
                    ),
                ),
                (
                    _full_name(accounts_pb2, "LicenseService"),
                    lambda srv: accounts_pb2_grpc.add_LicenseServiceServicer_to_server(
                        LicenseServicer(rt), srv
                    ),
                ),
                (
                    _full_name(internal_pb2, "IdentityInternalService"),
                    lambda srv: internal_pb2_grpc.add_IdentityInternalServiceServicer_to_server(
                        IdentityInternalServicer(rt), srv
                    ),
                ),
                (
                    _full_name(audit_pb2, "AuditService"),
                    lambda srv: audit_pb2_grpc.add_AuditServiceServicer_to_server(
                        AuditServicer(self.db, rt.audit, TreePaths(rt)), srv
                    ),
                ),
            ],
            verifier=verifier,
            scopes=rt.scopes,
        )
        return await self.server.start()

    @property
    def port(self) -> int:
        return self.server.port if self.server else 0

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self.rt is not None and self.rt.approvals is not None:
            await self.rt.approvals.stop()
        if self._housekeeping is not None:
            await self._housekeeping.stop()
        if self.rt is not None and self.rt.user_mails is not None:
            await self.rt.user_mails.relay.stop()
        await self.db.dispose()


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="wattlane-identity", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate", "settings"])
    args = parser.parse_args(argv)
    settings = load()
    if args.command == "settings":
        for name, default, help_text in describe(IdentitySettings, "identity"):
            print(f"{name}={default}" + (f"  # {help_text}" if help_text else ""))
        return
    logs.configure("identity", settings.log_level, settings.log_json)
    if args.command == "migrate":
        if settings.database_url.startswith("sqlite"):
            Path(Database(settings.database_url).url.database or "").parent.mkdir(parents=True, exist_ok=True)
        upgrade(settings.database_url, MIGRATIONS)
        return
    service = IdentityService(settings)
    run(run_until_signal(service.start, service.stop))


if __name__ == "__main__":
    cli()
