"""fake_identity: services' own tests get keys, scopes, service tokens and owners from it over
real gRPC, through the same IdentityLink a service uses in production."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from wattlane.api.identity.v1 import internal_pb2, internal_pb2_grpc
from wattlane.core.client import channel
from wattlane.core.errors import Unauthenticated
from wattlane.core.identity_link import IdentityLink
from wattlane.core.testing.fake_identity import FakeGrant, FakeIdentity


@pytest.fixture
async def fake() -> AsyncIterator[FakeIdentity]:
    identity = FakeIdentity()
    await identity.start()
    yield identity
    await identity.stop()


async def test_a_service_verifies_tokens_and_reads_scopes_through_its_link(fake: FakeIdentity) -> None:
    partner = fake.tenant(fake.root, "PARTNER")
    org, sibling = fake.tenant(partner), fake.tenant(partner)
    admin = fake.user(org, {"billing.read": [org], "billing.manage": [FakeGrant(org, subtree=False)]})
    link = IdentityLink(fake.target)
    try:
        principal = await link.verifier.verify(admin.token)
        assert principal.subject == admin.id
        scope = await link.scopes.get(principal)
        assert scope.can("billing.read", org.path)
        assert scope.can("billing.read", f"{org.path}child/")
        assert not scope.can("billing.manage", f"{org.path}child/")  # node only
        assert not scope.visible(sibling.path)  # a sibling sees nothing
        assert not scope.can("billing.read", partner.path)
    finally:
        await link.close()


async def test_service_tokens_carry_the_declared_scopes(fake: FakeIdentity) -> None:
    fake.service_account("billing", ["identity.directory"])
    link = IdentityLink(fake.target, client_id="billing", client_secret="anything")
    try:
        principal = await link.verifier.verify(await link.service_token())
        assert principal.service == "billing"
        assert principal.scopes == frozenset({"identity.directory"})
    finally:
        await link.close()
    unknown = IdentityLink(fake.target, client_id="nobody")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unknown.service_token()
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await unknown.close()


async def test_tokens_it_did_not_sign_get_no_scope(fake: FakeIdentity) -> None:
    other = FakeIdentity()
    stranger = other.user(other.root, {"billing.read": [other.root]})
    link = IdentityLink(fake.target)
    try:
        with pytest.raises(Unauthenticated):
            await link.verifier.verify(stranger.token)
    finally:
        await link.close()


async def test_resolve_owner_knows_declared_tenants_and_users(fake: FakeIdentity) -> None:
    org = fake.tenant(fake.root, "ORGANIZATION", "Acme")
    user = fake.user(org)
    async with channel(fake.target, max_attempts=1) as ch:
        stub = internal_pb2_grpc.IdentityInternalServiceStub(ch)
        owner = await stub.ResolveOwner(internal_pb2.ResolveOwnerRequest(name=org.name))
        assert (owner.tenant, owner.tenant_path, owner.kind, owner.display_name) == (
            org.name,
            org.path,
            "ORGANIZATION",
            "Acme",
        )
        assert (await stub.ResolveOwner(internal_pb2.ResolveOwnerRequest(name=user.name))).tenant == org.name
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ResolveOwner(internal_pb2.ResolveOwnerRequest(name="tenants/NOPE"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_link_refuses_revoked_tokens_after_one_poll(fake: FakeIdentity) -> None:
    """Issue 15: a revocation in identity's feed (a logout, an ended session) reaches a service at
    its next poll, however long its scope cache would have kept the token's scope."""
    org = fake.tenant(fake.root)
    leaving = fake.user(org, {"billing.read": [org]})
    disabled = fake.user(org, {"billing.read": [org]})
    staying = fake.user(org, {"billing.read": [org]})
    fake.service_account("billing", ["identity.revocations"])
    link = IdentityLink(fake.target, client_id="billing", client_secret="anything", scope_ttl=600)
    try:
        assert link.follows_revocations and await link.poll_revocations() == 0
        for user in (leaving, disabled, staying):
            await link.scopes.get(await link.verifier.verify(user.token))  # cached
        fake.revoke(leaving, token=leaving.token)
        fake.revoke(disabled, epoch=1)
        assert await link.poll_revocations() == 2
        for user in (leaving, disabled):
            with pytest.raises(Unauthenticated):
                await link.verifier.verify(user.token)
        assert (await link.verifier.verify(staying.token)).subject == staying.id
        assert await link.poll_revocations() == 0  # the overlap re-reads them: nothing new
    finally:
        await link.close()
    anonymous = IdentityLink(fake.target)
    try:
        assert not anonymous.follows_revocations  # no credentials: nothing to poll
    finally:
        await anonymous.close()
