"""Test support for identity and every service that needs real users and tokens: a running
identity service, authenticated clients, and a builder for tenant trees with role-holding users.

Also a pytest plugin (loaded from the root conftest) providing the `identity` fixture."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from wattlane.api.identity.v1 import (
    roles_pb2,
    tenants_pb2,
    users_pb2,
)
from wattlane.core.clients.identity import IdentityClient
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.identity.main import IdentityService
from wattlane.identity.settings import load

ADMIN_EMAIL = "admin@wattlane.test"
ADMIN_PASSWORD = "admin-password-1"
USER_PASSWORD = "user-password-1"
# argon2 at its cheapest: tests create many users; production cost is the settings default.
FAST_HASHING: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}
_unique = itertools.count()


def unique(prefix: str) -> str:
    """A name unique within the test session (tests share one identity database)."""
    return f"{prefix}-{next(_unique)}-{secrets.token_hex(2)}"


async def start_identity(database_url: str, **overrides: Any) -> IdentityService:
    settings = load(
        database_url=database_url,
        port=0,
        metrics_port=-1,
        log_json=False,
        bootstrap_admin_email=ADMIN_EMAIL,
        bootstrap_admin_password=ADMIN_PASSWORD,
        # Session-wide clients (the admin) outlive the production 15 minutes on a loaded machine.
        **{"access_token_ttl_seconds": 4 * 3600, **FAST_HASHING, **overrides},
    )
    service = IdentityService(settings)
    await service.start()
    return service


# Tests use the same client other services and the CLI use.
Client = IdentityClient


@dataclass
class Member:
    """A user created by the tree builder, signed in."""

    user: users_pb2.User
    client: Client
    bindings: list[roles_pb2.RoleBinding]


class TreeBuilder:
    """Creates tenants and signed-in users holding roles, through the public API as an admin."""

    def __init__(self, admin: Client) -> None:
        self.admin = admin
        self._clients: list[Client] = []

    async def root(self) -> tenants_pb2.Tenant:
        page = await self.admin.tenants.ListTenants(tenants_pb2.ListTenantsRequest(filter="kind = OPERATOR"))
        return page.tenants[0]

    async def tenant(
        self, parent: str, kind: str, name: str | None = None, customer_type: str = "", **fields: Any
    ) -> tenants_pb2.Tenant:
        tenant = tenants_pb2.Tenant(
            kind=tenants_pb2.Tenant.Kind.Value(kind), display_name=name or unique(kind.lower()), **fields
        )
        if customer_type:
            tenant.customer_type = tenants_pb2.Tenant.CustomerType.Value(customer_type)
        elif kind == "CUSTOMER":
            tenant.customer_type = tenants_pb2.Tenant.COMPANY
        return await self.admin.tenants.CreateTenant(
            tenants_pb2.CreateTenantRequest(parent=parent, tenant=tenant)
        )

    async def member(
        self,
        tenant: str,
        roles: list[tuple[str, str]] | None = None,
        *,
        propagate: bool = True,
        allowed_resources: list[str] | None = None,
    ) -> Member:
        """A signed-in user of `tenant` holding each (role id, at tenant) in `roles`."""
        email = f"{unique('user')}@example.test"
        user = await self.admin.users.CreateUser(
            users_pb2.CreateUserRequest(parent=tenant, user=users_pb2.User(email=email, display_name=email))
        )
        invitation = await self.admin.users.CreateInvitation(
            users_pb2.CreateInvitationRequest(user=user.name)
        )
        await self.admin.users.AcceptInvitation(
            users_pb2.AcceptInvitationRequest(token=invitation.token, password=USER_PASSWORD)
        )
        bindings = []
        for role_id, at in roles or []:
            bindings.append(
                await self.admin.roles.CreateRoleBinding(
                    roles_pb2.CreateRoleBindingRequest(
                        role_binding=roles_pb2.RoleBinding(
                            user=user.name,
                            role=f"roles/{role_id}",
                            tenant=at,
                            propagate=propagate,
                            allowed_resources=allowed_resources or [],
                        )
                    )
                )
            )
        client = await Client(self.admin.target).login(email, USER_PASSWORD)
        self._clients.append(client)
        return Member(user, client, bindings)

    async def close(self) -> None:
        for client in self._clients:
            await client.close()


@pytest.fixture(scope="session")
async def identity(databases: DatabaseFactory) -> AsyncIterator[IdentityService]:
    """One identity service per test worker (tests make their own tenants, so they don't collide).

    Its user tokens live for the whole session: the session's `admin` signs in once, and a
    worker's share of the suite can take longer than the production lifetime (15 minutes), after
    which every later test would fail with "token has expired"."""
    service = await start_identity(await databases.create("identity"), access_token_ttl_seconds=6 * 3600)
    yield service
    await service.stop()


@pytest.fixture(scope="session")
async def admin(identity: IdentityService) -> AsyncIterator[Client]:
    """An operator super-admin client of the session's identity service."""
    client = await Client(f"127.0.0.1:{identity.port}").login(ADMIN_EMAIL, ADMIN_PASSWORD)
    yield client
    await client.close()


@pytest.fixture
async def tree(admin: Client) -> AsyncIterator[TreeBuilder]:
    builder = TreeBuilder(admin)
    yield builder
    await builder.close()
