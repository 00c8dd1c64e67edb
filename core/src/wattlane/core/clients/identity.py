"""The identity client: every identity API on one channel."""

from __future__ import annotations

from dataclasses import dataclass

from wattlane.api.common.v1 import audit_pb2_grpc
from wattlane.api.identity.v1 import (
    accounts_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    roles_pb2_grpc,
    tenants_pb2_grpc,
    users_pb2_grpc,
)
from wattlane.core.client import ApiClient


@dataclass
class IdentityClient(ApiClient):
    """Stubs of every identity API, sending `token` as the bearer (empty: anonymous)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.tenants = tenants_pb2_grpc.TenantServiceStub(self.channel)
        self.users = users_pb2_grpc.UserServiceStub(self.channel)
        self.roles = roles_pb2_grpc.RoleServiceStub(self.channel)
        self.auth = auth_pb2_grpc.AuthServiceStub(self.channel)
        self.service_accounts = auth_pb2_grpc.ServiceAccountServiceStub(self.channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(self.channel)
        self.accounts = accounts_pb2_grpc.AccountServiceStub(self.channel)
        self.applications = accounts_pb2_grpc.ApplicationServiceStub(self.channel)
        self.licenses = accounts_pb2_grpc.LicenseServiceStub(self.channel)

    async def login(self, email: str, password: str) -> IdentityClient:
        """Sign in on this client; returns self."""
        response = await self.auth.Login(auth_pb2.LoginRequest(email=email, password=password))
        self.token = response.access_token
        return self
