"""AuthService: tokens (expired, forged, revoked), published keys, effective scopes, service
accounts and service tokens."""

from __future__ import annotations

import time

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import field_mask_pb2

from wattlane.api.identity.v1 import auth_pb2, internal_pb2, internal_pb2_grpc, tenants_pb2, users_pb2
from wattlane.core.errors import field_violations
from wattlane.core.tokens import TokenVerifier
from wattlane.identity.main import IdentityService
from wattlane.identity.testing import ADMIN_EMAIL, Client, TreeBuilder, unique


async def _expect_unauthenticated(client: Client) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.users.GetUser(users_pb2.GetUserRequest(name="users/me"))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_login_failures_look_the_same(identity_target: str) -> None:
    client = Client(identity_target)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await client.login("nobody@example.test", "some-password-1")
        with pytest.raises(grpc.aio.AioRpcError) as wrong:
            await client.login(ADMIN_EMAIL, "wrong-password-1")
        assert unknown.value.code() == wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert unknown.value.details() == wrong.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.auth.Login(auth_pb2.LoginRequest(email="", password="x"))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # Longer than any e-mail address: named, not a failed sign-in to count (PostgreSQL
        # would refuse to store it in the throttle, an INTERNAL).
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.auth.Login(
                auth_pb2.LoginRequest(email="x" * 100_000 + "@example.test", password="x")
            )
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in field_violations(raised.value)] == ["email"]
    finally:
        await client.close()


async def test_tokens_verify_against_published_keys(admin: Client) -> None:
    jwks = await admin.auth.GetJwks(auth_pb2.GetJwksRequest())
    assert jwks.keys and jwks.keys[0].alg == "EdDSA" and jwks.keys[0].crv == "Ed25519"

    async def source() -> list[dict[str, str]]:
        return [
            {"kid": k.kid, "kty": k.kty, "crv": k.crv, "x": k.x, "alg": k.alg, "use": k.use}
            for k in jwks.keys
        ]

    principal = await TokenVerifier(source).verify(admin.token)
    assert principal.kind == "user" and principal.tenant_path.startswith("/")


async def test_expired_forged_and_revoked_tokens(
    identity: IdentityService, tree: TreeBuilder, identity_target: str
) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    member = await tree.member(partner.name, [("partner-admin", partner.name)])
    assert identity.rt is not None
    claims = jwt.decode(member.client.token, options={"verify_signature": False})
    keep = {k: claims[k] for k in ("sub", "typ", "tn", "tp", "ep")}
    expired, _, _ = identity.rt.keys.sign(keep, ttl_seconds=-60)
    forged = jwt.encode(
        {**claims, "exp": int(time.time()) + 600},
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": identity.rt.keys.signer.kid},
    )
    unsigned = jwt.encode({**claims}, key="", algorithm="none")
    for token in (expired, forged, unsigned, member.client.token[:-4] + "AAAA"):
        client = Client(identity_target, token)
        try:
            await _expect_unauthenticated(client)
        finally:
            await client.close()
    await member.client.users.GetUser(users_pb2.GetUserRequest(name="users/me"))
    await member.client.auth.Logout(auth_pb2.LogoutRequest())
    await _expect_unauthenticated(member.client)


async def test_effective_scope(tree: TreeBuilder) -> None:
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    customer = await tree.tenant(partner.name, "CUSTOMER")
    member = await tree.member(
        customer.name, [("organization-admin", customer.name), ("cardholder", customer.name)]
    )
    scope = await member.client.auth.GetEffectiveScope(auth_pb2.GetEffectiveScopeRequest())
    assert scope.user == member.user.name and scope.tenant == customer.name
    perms = {p.permission: [(g.path, g.subtree) for g in p.grants] for p in scope.permissions}
    assert perms["users.manage"] == [(customer.path, True)]
    assert perms["tenants.read"] == [(customer.path, True)]  # merged: one grant covers both roles
    assert "accounts.approve" not in perms
    assert scope.expire_time.seconds > time.time()


async def test_service_accounts_and_tokens(admin: Client, tree: TreeBuilder, identity_target: str) -> None:
    created = await admin.service_accounts.CreateServiceAccount(
        auth_pb2.CreateServiceAccountRequest(
            service_account=auth_pb2.ServiceAccount(
                service="svc-test-" + str(int(time.time() * 1000) % 100000), scopes=["identity.datapoints"]
            )
        )
    )
    assert created.client_secret
    anonymous = Client(identity_target)
    try:
        token = await anonymous.auth.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(
                client_id=created.service_account.name, client_secret=created.client_secret
            )
        )
        by_service_name = await anonymous.auth.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(
                client_id=created.service_account.service, client_secret=created.client_secret
            )
        )
        assert by_service_name.access_token
        claims = jwt.decode(token.access_token, options={"verify_signature": False})
        assert claims["typ"] == "service" and claims["scp"] == ["identity.datapoints"]
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await anonymous.auth.IssueServiceToken(
                auth_pb2.IssueServiceTokenRequest(
                    client_id=created.service_account.name, client_secret="wrong"
                )
            )
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        service = Client(identity_target, token.access_token)
        try:
            with pytest.raises(grpc.aio.AioRpcError) as raised:  # no tenant scope for services
                await service.tenants.ListTenants(tenants_pb2.ListTenantsRequest())
            assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
        finally:
            await service.close()
    finally:
        await anonymous.close()
    # Only operator-wide admins manage service accounts.
    root = await tree.root()
    partner = await tree.tenant(root.name, "PARTNER")
    partner_admin = await tree.member(partner.name, [("partner-admin", partner.name)])
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await partner_admin.client.service_accounts.ListServiceAccounts(auth_pb2.ListServiceAccountsRequest())
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    listed = await admin.service_accounts.ListServiceAccounts(
        auth_pb2.ListServiceAccountsRequest(page_size=1000)
    )
    assert created.service_account.name in {a.name for a in listed.service_accounts}
    await admin.service_accounts.DeleteServiceAccount(
        auth_pb2.DeleteServiceAccountRequest(name=created.service_account.name)
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.service_accounts.DeleteServiceAccount(
            auth_pb2.DeleteServiceAccountRequest(name=created.service_account.name)
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.service_accounts.CreateServiceAccount(
            auth_pb2.CreateServiceAccountRequest(
                service_account=auth_pb2.ServiceAccount(service="Bad Name", scopes=["a.b"])
            )
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def _service_client(admin: Client, identity_target: str, scopes: list[str]) -> Client:
    created = await admin.service_accounts.CreateServiceAccount(
        auth_pb2.CreateServiceAccountRequest(
            service_account=auth_pb2.ServiceAccount(service=unique("svc-rev"), scopes=scopes)
        )
    )
    anonymous = Client(identity_target)
    try:
        token = await anonymous.auth.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(
                client_id=created.service_account.name, client_secret=created.client_secret
            )
        )
    finally:
        await anonymous.close()
    return Client(identity_target, token.access_token)


async def test_the_revocation_feed_lists_logouts_and_ended_sessions(
    admin: Client, tree: TreeBuilder, identity_target: str
) -> None:
    """Issue 15: what services poll to refuse revoked tokens at once (`identity.revocations`)."""
    follower = await _service_client(admin, identity_target, ["identity.revocations"])
    other = await _service_client(admin, identity_target, ["identity.directory"])
    feed = internal_pb2_grpc.IdentityInternalServiceStub(follower.channel)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await internal_pb2_grpc.IdentityInternalServiceStub(other.channel).ListRevocations(
                internal_pb2.ListRevocationsRequest()
            )
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
        first = await feed.ListRevocations(internal_pb2.ListRevocationsRequest())
        root = await tree.root()
        leaving = await tree.member(root.name)
        disabled = await tree.member(root.name)
        token_id = jwt.decode(leaving.client.token, options={"verify_signature": False})["jti"]
        await leaving.client.auth.Logout(auth_pb2.LogoutRequest())
        await admin.users.UpdateUser(
            users_pb2.UpdateUserRequest(
                user=users_pb2.User(name=disabled.user.name, state=users_pb2.User.DISABLED),
                update_mask=field_mask_pb2.FieldMask(paths=["state"]),
            )
        )
        later = await feed.ListRevocations(internal_pb2.ListRevocationsRequest(since=first.read_time))
        got = {(r.user, r.token_id, r.epoch) for r in later.revocations}
        assert (leaving.user.name, token_id, 0) in got
        assert (disabled.user.name, "", 1) in got  # every token below epoch 1: all it had
        assert not later.truncated and all(r.expire_time.seconds > time.time() for r in later.revocations)
        everything = await feed.ListRevocations(internal_pb2.ListRevocationsRequest())
        assert got <= {(r.user, r.token_id, r.epoch) for r in everything.revocations}
    finally:
        await follower.close()
        await other.close()
