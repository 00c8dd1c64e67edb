"""Every RPC of every service, found through gRPC server reflection, answers garbage with a clear
status: never INTERNAL or UNKNOWN (the developers' guide: every bad input gets a status naming
what is wrong).

One started stack (tests/conftest.py: `real_stack`). Each method gets the requests of
`tests.support.garbage` (seeded per method, so a failure reproduces), as an operator admin (so
authorization does not hide the validation) and unauthenticated; the internal services also with
each internal service account's token. Server-streaming methods are read to the end."""

from __future__ import annotations

import asyncio
import random
import zlib
from collections.abc import Callable

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from tests.support.garbage import Garbage
from tests.support.processes import ADMIN_EMAIL, ADMIN_PASSWORD, RealStack
from wattlane.api.identity.v1 import auth_pb2
from wattlane.core.clients.identity import IdentityClient

GRPC_SERVICES = ("identity", "billing", "assets", "csms")
# Leaf fields tried one at a time per method (the whole-request fills cover every field).
PER_FIELD = 24
# Calls in flight at once: the services are single processes on a shared 2-core machine.
CONCURRENCY = 8
FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
# Answers that are not a verdict on the request: the walk's own deadline.
TIMEOUT = 20.0
DESTRUCTIVE = ("Delete", "Move", "Logout", "Revoke")


def _methods(address: str) -> list[tuple[MethodDescriptor, descriptor_pool.DescriptorPool]]:
    """Every method of every service the server at `address` lists through reflection."""
    with grpc.insecure_channel(address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        pool = descriptor_pool.DescriptorPool(database)
        out = []
        for name in database.get_services():
            if name.startswith(("grpc.health.", "grpc.reflection.")):
                continue
            service = pool.FindServiceByName(name)
            out.extend((method, pool) for method in service.methods)
        # Resolve every type now, while the channel is open.
        for method, _ in out:
            message_factory.GetMessageClass(method.input_type)
        return out


async def _call(
    channel: grpc.aio.Channel, method: MethodDescriptor, request: Message, token: str
) -> grpc.StatusCode:
    path = f"/{method.containing_service.full_name}/{method.name}"
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    serialize: Callable[[Message], bytes] = lambda m: m.SerializeToString()  # noqa: E731
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path, request_serializer=serialize, response_deserializer=bytes)
            async for _ in stream(request, metadata=metadata, timeout=TIMEOUT):
                pass
        else:
            unary = channel.unary_unary(path, request_serializer=serialize, response_deserializer=bytes)
            await unary(request, metadata=metadata, timeout=TIMEOUT)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def _admin_login(identity: str) -> tuple[str, str]:
    """A fresh operator admin token and the admin's tenant (`tenants/<id>`)."""
    client = IdentityClient(identity)
    try:
        reply = await client.auth.Login(auth_pb2.LoginRequest(email=ADMIN_EMAIL, password=ADMIN_PASSWORD))
        return reply.access_token, "/".join(reply.user.name.split("/")[:2])
    finally:
        await client.close()


async def _service_tokens(identity: str, secrets: dict[str, str]) -> dict[str, str]:
    client = IdentityClient(identity)
    try:
        tokens = {}
        for account, secret in secrets.items():
            reply = await client.auth.IssueServiceToken(
                auth_pb2.IssueServiceTokenRequest(client_id=account, client_secret=secret)
            )
            tokens[f"service:{account}"] = reply.access_token
        return tokens
    finally:
        await client.close()


@pytest.mark.slow
async def test_no_rpc_answers_garbage_with_internal_or_unknown(real_stack: RealStack) -> None:
    identity = real_stack["identity"].grpc
    service_tokens = await _service_tokens(identity, real_stack.secrets)
    failures: list[str] = []
    calls = 0
    methods_seen = 0
    limit = asyncio.Semaphore(CONCURRENCY)

    async def check(
        channel: grpc.aio.Channel,
        method: MethodDescriptor,
        label: str,
        request: Message,
        who: str,
        token: str,
    ) -> None:
        nonlocal calls
        async with limit:
            code = await _call(channel, method, request, token)
            calls += 1
        if code in FORBIDDEN:
            failures.append(f"{method.full_name} [{who}] {label}: {code.name}")

    for service in GRPC_SERVICES:
        address = real_stack[service].grpc
        methods = await asyncio.to_thread(_methods, address)
        assert methods, f"{service} lists no services through reflection"
        async with grpc.aio.insecure_channel(
            address, options=[("grpc.max_send_message_length", 16 * 1024 * 1024)]
        ) as channel:
            for method, _pool in methods:
                methods_seen += 1
                # A fresh admin token per method: Logout and password changes may end the last one.
                token, tenant = await _admin_login(identity)
                callers = {"admin": token, "anonymous": ""}
                if method.containing_service.name.endswith("InternalService"):
                    callers |= service_tokens
                cls = message_factory.GetMessageClass(method.input_type)
                rng = random.Random(zlib.crc32(method.full_name.encode()))
                # Plausible names point at the operator tenant, except where that would delete or
                # move it from under the rest of the walk.
                garbage = Garbage(rng, tenant, plausible_names=not method.name.startswith(DESTRUCTIVE))
                requests = list(garbage.requests(method.input_type, cls, PER_FIELD))
                await asyncio.gather(
                    *(
                        check(channel, method, label, request, who, token)
                        for who, token in callers.items()
                        # Unauthenticated: the whole-request fills suffice (no field is read).
                        for label, request in (requests if who != "anonymous" else requests[:3])
                    )
                )
    assert methods_seen > 100, f"only {methods_seen} methods found through reflection"
    assert not failures, f"{len(failures)} of {calls} calls answered INTERNAL/UNKNOWN:\n" + "\n".join(
        sorted(failures)
    )
