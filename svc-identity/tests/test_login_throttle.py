"""Sign-in throttling: repeated failures lock an e-mail out for a while, known or not."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2

from wattlane.api.identity.v1 import auth_pb2, users_pb2
from wattlane.core.errors import decode_status, error_info
from wattlane.core.testing.databases import DatabaseFactory
from wattlane.identity.testing import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    USER_PASSWORD,
    Client,
    TreeBuilder,
    start_identity,
)


async def _login_code(client: Client, email: str, password: str) -> grpc.StatusCode:
    try:
        await client.auth.Login(auth_pb2.LoginRequest(email=email, password=password))
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def _fail(client: Client, email: str, times: int) -> list[grpc.StatusCode]:
    return [await _login_code(client, email, "wrong-password-1") for _ in range(times)]


async def test_five_failures_lock_the_email_even_for_the_right_password(tree: TreeBuilder) -> None:
    root = await tree.root()
    org = await tree.tenant(root.name, "PARTNER")
    member = await tree.member(org.name)
    client = Client(tree.admin.target)
    try:
        assert await _fail(client, member.user.email, 4) == [grpc.StatusCode.UNAUTHENTICATED] * 4
        with pytest.raises(grpc.aio.AioRpcError) as locked:
            await client.auth.Login(
                auth_pb2.LoginRequest(email=member.user.email, password="wrong-password-1")
            )
        assert locked.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "too many failed sign-ins" in (locked.value.details() or "")
        info = error_info(locked.value)
        assert info is not None and info.reason == "LOGIN_LOCKED"
        status = decode_status(locked.value)
        assert status is not None
        retry = [d for d in status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
        assert retry, "a lockout tells the caller when to retry"
        delay = error_details_pb2.RetryInfo()
        retry[0].Unpack(delay)
        assert 800 < delay.retry_delay.seconds <= 900
        # The right password does not get through a lockout (guessing stays slow) ...
        assert (
            await _login_code(client, member.user.email, USER_PASSWORD) == grpc.StatusCode.RESOURCE_EXHAUSTED
        )
        # ... and a lockout is per e-mail: other users sign in as usual.
        assert await _login_code(client, ADMIN_EMAIL, ADMIN_PASSWORD) == grpc.StatusCode.OK
        # The member's existing session keeps working: a lockout stops sign-ins, not tokens.
        me = await member.client.users.GetUser(users_pb2.GetUserRequest(name="users/me"))
        assert me.email == member.user.email
    finally:
        await client.close()


async def test_unknown_emails_lock_the_same_way(identity_target: str) -> None:
    client = Client(identity_target)
    try:
        codes = await _fail(client, "nobody-throttle@example.test", 6)
        assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 4 + [grpc.StatusCode.RESOURCE_EXHAUSTED] * 2
    finally:
        await client.close()


async def test_a_successful_sign_in_clears_the_count(tree: TreeBuilder) -> None:
    root = await tree.root()
    org = await tree.tenant(root.name, "PARTNER")
    member = await tree.member(org.name)
    client = Client(tree.admin.target)
    try:
        assert await _fail(client, member.user.email, 4) == [grpc.StatusCode.UNAUTHENTICATED] * 4
        assert await _login_code(client, member.user.email, USER_PASSWORD) == grpc.StatusCode.OK
        assert await _fail(client, member.user.email, 4) == [grpc.StatusCode.UNAUTHENTICATED] * 4
    finally:
        await client.close()


async def test_concurrent_failures_are_all_counted(identity_target: str) -> None:
    client = Client(identity_target)
    try:
        codes = await asyncio.gather(
            *[_login_code(client, "racer@example.test", "wrong-1") for _ in range(8)]
        )
        assert (
            await _login_code(client, "racer@example.test", "wrong-1") == grpc.StatusCode.RESOURCE_EXHAUSTED
        )
        assert grpc.StatusCode.INTERNAL not in codes and grpc.StatusCode.UNKNOWN not in codes
    finally:
        await client.close()


async def test_a_lockout_ends(databases: DatabaseFactory) -> None:
    service = await start_identity(
        await databases.create("identity-throttle"), login_max_failures=2, login_lockout_seconds=1
    )
    client = Client(f"127.0.0.1:{service.port}")
    try:
        assert await _fail(client, ADMIN_EMAIL, 2) == [
            grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        ]
        assert await _login_code(client, ADMIN_EMAIL, ADMIN_PASSWORD) == grpc.StatusCode.RESOURCE_EXHAUSTED
        await asyncio.sleep(1.2)
        assert await _login_code(client, ADMIN_EMAIL, ADMIN_PASSWORD) == grpc.StatusCode.OK
    finally:
        await client.close()
        await service.stop()
